#include "bench/serve_model.h"

#include <fmt/format.h>

#include <algorithm>

#include "bench/machine_info.h"
#include "device/device_choice.h"
#include "store/utc_time.h"

namespace tokamak {

bool serve_cuda_available() { return decide_device("cuda").as_asked; }

Result<ServeModel> load_serve_model(const ServeModelOptions& o) {
  if (o.device != "cpu" && o.device != "cuda") {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("device '{}': expected cpu or cuda", o.device));
  }
  const DeviceDecision device = decide_device(o.device);
  if (!device.as_asked)
    return make_error(ErrorCode::Unsupported, "device cuda: " + device.cuda_problem);
  ServeModel m;
  TK_ASSIGN(m.model, Model::load(o.model_path));
  BackendSizes sizes;
  sizes.num_kv_blocks = o.kv_num_blocks;
  sizes.max_step_tokens = o.max_step_tokens;
  sizes.num_threads = o.num_threads;
  TK_ASSIGN(auto backend, make_backend(device, m.model, sizes));
  m.backend = std::shared_ptr<Backend>(std::move(backend));
  m.tokenizer = std::shared_ptr<const Tokenizer>(m.model, &m.model->tokenizer());
  const ModelSpec& spec = m.model->spec();
  const KvCacheConfig& kv = m.backend->kv_config();
  m.context = o.context > 0 ? o.context : 4096;
  if (spec.context_length > 0) m.context = std::min(m.context, spec.context_length);
  m.context = std::min(m.context, kv.num_blocks * kv.block_size);

  m.config = serve_bench_config(*m.model, *m.backend, m.context, o.num_threads);
  m.config.model = o.model;
  m.config.model_path = o.model_path;
  m.config.command_line = o.command_line;
  return m;
}

ServeBenchConfig serve_bench_config(const Model& model, const Backend& backend, int32_t context,
                                    int32_t num_threads) {
  const ModelSpec& spec = model.spec();
  const KvCacheConfig& kv = backend.kv_config();
  ServeBenchConfig c;
  c.model_name = spec.name;
  c.arch = spec.arch_name;
  c.device = backend.name();
  c.num_threads = num_threads;
  c.context = context;
  c.kv_block_size = kv.block_size;
  c.kv_num_blocks = kv.num_blocks;
  const int64_t element_bytes = c.device == "cuda" ? 2 : 4;  // cpu fp32, cuda fp16
  c.kv_pool_bytes =
      int64_t{kv.num_blocks} * kv.block_size * 2 * spec.num_layers * spec.kv_dim() * element_bytes;
  c.engine_version = engine_version();
  c.commit = git_commit();
  c.date = utc_timestamp_now();
  c.machine = machine_info();
  return c;
}

}  // namespace tokamak
