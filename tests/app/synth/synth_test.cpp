// synth: preset shapes (parameter counts as published for the real models),
// tiny presets that load and run, determinism, type mixes, the byte vocab
// and the demo model.
#include "synth/synth.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "convert/type_mix.h"
#include "cpu/cpu_backend.h"
#include "cpu/sequence_logits.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/model_spec.h"
#include "scratch_dir.h"
#include "synth/byte_vocab.h"
#include "tokenizer/tokenizer.h"

namespace tokamak {
namespace {

namespace fs = std::filesystem;
const std::string kTmp = ::tokamak::test::scratch_dir("synth");

Result<SynthReport> run(const std::string& preset, const std::string& mix, const std::string& out,
                        uint64_t seed = 1, int threads = 2) {
  fs::create_directories(kTmp);
  SynthOptions o;
  o.preset = preset;
  o.type_mix = mix;
  o.output_path = out.empty() ? "" : kTmp + "/" + out;
  o.dry_run = out.empty();
  o.seed = seed;
  o.num_threads = threads;
  return synthesize(o);
}

const TensorSummary* find(const SynthReport& r, const std::string& name) {
  for (const auto& t : r.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<char> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Parameter counts of the real models, as their model cards and
// llama.cpp's model loader print them.
TEST(SynthPresets, ParameterCountsMatchTheRealModels) {
  const std::pair<const char*, int64_t> cases[] = {{"llama2-7b", 6738415616},
                                                   {"llama3-8b", 8030261248 + 64},  // + rope_freqs
                                                   {"tinyllama-1.1b", 1100048384},
                                                   {"qwen2.5-0.5b", 494032768},
                                                   {"smollm-135m", 134515008}};
  for (const auto& [name, params] : cases) {
    auto r = run(name, "f16", "");
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
    EXPECT_EQ(r->num_params, params) << name;
    EXPECT_EQ(r->file_size_bytes, 0u) << "dry run writes nothing";
  }
}

TEST(SynthPresets, ShapesFollowThePreset) {
  for (const auto& p : synth_presets()) {
    SCOPED_TRACE(p.name);
    auto r = run(p.name, "f16", "");
    ASSERT_TRUE(r.ok()) << r.error().message;
    const int64_t hd = p.dim / p.num_heads, kv = p.num_kv_heads * hd;
    const size_t per_layer = 9 + (p.attn_bias ? 3 : 0);
    EXPECT_EQ(r->tensors.size(),
              2 + (p.tied_embeddings ? 0 : 1) + (p.llama3_rope ? 1 : 0) + per_layer * p.num_layers);
    EXPECT_EQ(find(*r, "token_embd.weight")->dims, (std::vector<int64_t>{p.dim, p.vocab_size}));
    EXPECT_EQ(find(*r, "output.weight") == nullptr, p.tied_embeddings);
    const std::string last = "blk." + std::to_string(p.num_layers - 1) + ".";
    EXPECT_EQ(find(*r, last + "attn_k.weight")->dims, (std::vector<int64_t>{p.dim, kv}));
    EXPECT_EQ(find(*r, last + "ffn_down.weight")->dims,
              (std::vector<int64_t>{p.hidden_dim, p.dim}));
    EXPECT_EQ(find(*r, last + "attn_q.bias") != nullptr, p.attn_bias);
    if (p.llama3_rope) {
      EXPECT_EQ(find(*r, "rope_freqs.weight")->dims[0], hd / 2);
    }
  }
}

TEST(SynthPresets, UnknownPresetListsTheKnownOnes) {
  auto r = run("llama4-400b", "f16", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::InvalidArgument);
  EXPECT_NE(r.error().message.find("llama2-7b"), std::string::npos);
  EXPECT_NE(r.error().message.find("tiny-qwen2"), std::string::npos);
  EXPECT_TRUE(find_synth_preset("TinyLlama-1.1B").has_value());
}

TEST(SynthPresets, TypesFollowTheMix) {
  auto mix = TypeMix::parse("q4_k_m");
  for (const char* preset : {"llama3-8b", "qwen2.5-0.5b", "smollm-135m"}) {
    SCOPED_TRACE(preset);
    auto r = run(preset, "q4_k_m", "");
    ASSERT_TRUE(r.ok()) << r.error().message;
    const SynthPreset p = *find_synth_preset(preset);
    for (const auto& t : r->tensors) {
      TensorRole role{t.name, t.dims, layer_of_tensor(t.name), p.num_layers, p.tied_embeddings};
      EXPECT_EQ(t.type, mix->choose(role).type) << t.name;
      if (t.dims.size() == 1) {
        EXPECT_EQ(t.type, TensorType::F32) << t.name;
      }
    }
  }
  // Llama 3 8B, as llama.cpp's Q4_K_M files have it.
  auto r = run("llama3-8b", "q4_k_m", "");
  EXPECT_EQ(find(*r, "output.weight")->type, TensorType::Q6_K);
  EXPECT_EQ(find(*r, "token_embd.weight")->type, TensorType::Q4_K);
  EXPECT_EQ(find(*r, "blk.0.attn_v.weight")->type, TensorType::Q6_K);
  EXPECT_EQ(find(*r, "blk.4.attn_v.weight")->type, TensorType::Q4_K);
  EXPECT_EQ(find(*r, "blk.6.ffn_down.weight")->type, TensorType::Q6_K);
  EXPECT_EQ(find(*r, "blk.7.ffn_down.weight")->type, TensorType::Q4_K);
  EXPECT_TRUE(r->notes.empty());
  // Qwen2.5 0.5B: rows of 896 fall back to Q8_0, and the report says so.
  r = run("qwen2.5-0.5b", "q4_k_m", "");
  EXPECT_EQ(find(*r, "blk.0.attn_q.weight")->type, TensorType::Q8_0);
  EXPECT_EQ(find(*r, "blk.0.ffn_down.weight")->type, TensorType::Q6_K);  // rows of 4864
  EXPECT_EQ(find(*r, "token_embd.weight")->type, TensorType::Q8_0);      // tied: wanted Q6_K
  EXPECT_FALSE(r->notes.empty());
}

TEST(Synth, TinyPresetsLoadAndRunWithoutNaN) {
  for (const char* preset : {"tiny", "tiny-qwen2", "tiny-llama3"}) {
    for (const char* mix : {"f32", "q8_0", "q4_k_m"}) {
      SCOPED_TRACE(std::string(preset) + " " + mix);
      const std::string out = std::string(preset) + "-" + mix + ".gguf";
      auto r = run(preset, mix, out);
      ASSERT_TRUE(r.ok()) << r.error().message;
      auto file = gguf::File::open(r->output_path);
      ASSERT_TRUE(file.ok()) << file.error().message;
      EXPECT_EQ(r->file_size_bytes, (*file)->file_size());
      auto spec = ModelSpec::from_gguf(**file);
      ASSERT_TRUE(spec.ok()) << spec.error().message;
      const SynthPreset p = *find_synth_preset(preset);
      EXPECT_EQ(spec->dim, p.dim);
      EXPECT_EQ(spec->num_kv_heads, p.num_kv_heads);
      EXPECT_EQ(spec->vocab_size, p.vocab_size);
      EXPECT_EQ(spec->arch_name, p.arch_name);
      auto model = Model::load(r->output_path);
      ASSERT_TRUE(model.ok()) << model.error().message;
      EXPECT_EQ((*model)->spec().tied_embeddings, p.tied_embeddings);
      EXPECT_EQ((*model)->spec().attn_bias, p.attn_bias);
      auto backend = make_cpu_backend(*model, CpuBackendOptions{});
      ASSERT_TRUE(backend.ok()) << backend.error().message;
      const std::vector<int32_t> tokens = (*model)->tokenizer().encode("Hello, tokamak!", {});
      auto logits = sequence_logits(**backend, tokens);
      ASSERT_TRUE(logits.ok()) << logits.error().message;
      double sum_sq = 0.0;
      for (float v : *logits) {
        ASSERT_TRUE(std::isfinite(v));
        sum_sq += double(v) * v;
      }
      const double rms = std::sqrt(sum_sq / logits->size());
      EXPECT_GT(rms, 1e-3);  // not all zero
      EXPECT_LT(rms, 50.0);  // activations stay sane
    }
  }
}

TEST(Synth, SameSeedSameBytesWhateverTheThreads) {
  auto a = run("tiny", "q4_k_m", "det-a.gguf", 7, 1);
  auto b = run("tiny", "q4_k_m", "det-b.gguf", 7, 2);
  auto c = run("tiny", "q4_k_m", "det-c.gguf", 8, 2);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const auto bytes_a = bytes_of(a->output_path);
  EXPECT_GT(bytes_a.size(), 1000u);
  EXPECT_EQ(bytes_a, bytes_of(b->output_path));
  EXPECT_NE(bytes_a, bytes_of(c->output_path));
}

TEST(Synth, ProgressIsReportedForEveryTensorInOrder) {
  SynthOptions o;
  o.preset = "tiny";
  o.output_path = kTmp + "/progress.gguf";
  std::vector<std::string> names;
  o.on_progress = [&](std::string_view name, int64_t index, int64_t total) {
    EXPECT_EQ(index, static_cast<int64_t>(names.size()));
    EXPECT_EQ(total, 2 + 1 + 9 * 2);
    names.emplace_back(name);
  };
  auto r = synthesize(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(names.size(), r->tensors.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(names[i], r->tensors[i].name);
}

// A full disk, as far as one process can make one: RLIMIT_FSIZE makes
// write() fail (EFBIG) past 1 MB. The Writer's error comes back naming the
// file, and neither the file nor its .tmp is left behind.
TEST(Synth, WriteFailureMidFileLeavesNothingBehind) {
  const std::string out = kTmp + "/too-big.gguf";
  fs::create_directories(kTmp);
  fs::remove(out);
  struct rlimit old_limit {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit small = old_limit;
  small.rlim_cur = 1 << 20;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  SynthOptions o;
  o.preset = "tiny";  // about 2.6 MB in F16
  o.output_path = out;
  auto r = synthesize(o);
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::IoError) << r.error().message;
  EXPECT_NE(r.error().message.find("too-big.gguf"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST(Synth, WeightsLookLikeTheirRoles) {
  auto r = run("tiny", "f32", "roles.gguf");
  ASSERT_TRUE(r.ok());
  auto file = gguf::File::open(r->output_path);
  ASSERT_TRUE(file.ok());
  auto stats = [&](const char* name) {
    const gguf::TensorInfo* t = (*file)->find_tensor(name);
    const float* v = reinterpret_cast<const float*>(t->data);
    double mean = 0, sq = 0;
    for (int64_t i = 0; i < t->num_values(); ++i) mean += v[i];
    mean /= t->num_values();
    for (int64_t i = 0; i < t->num_values(); ++i) sq += (v[i] - mean) * (v[i] - mean);
    return std::make_pair(mean, std::sqrt(sq / t->num_values()));
  };
  auto [m_norm, s_norm] = stats("blk.0.attn_norm.weight");
  EXPECT_NEAR(m_norm, 1.0, 0.01);
  EXPECT_NEAR(s_norm, 0.02, 0.005);
  auto [m_q, s_q] = stats("blk.1.attn_q.weight");
  EXPECT_NEAR(m_q, 0.0, 0.001);
  EXPECT_NEAR(s_q, 0.02, 0.001);  // min(0.02, 0.5 / sqrt(256))
}

TEST(ByteVocab, RoundTripsTextThroughOurTokenizer) {
  auto vocab = synth::make_byte_vocab(512);
  ASSERT_TRUE(vocab.ok()) << vocab.error().message;
  EXPECT_EQ(vocab->size(), 512);
  EXPECT_EQ(vocab->merges.size(), 512u - 258u);
  EXPECT_EQ(vocab->bos_id, 510);
  EXPECT_EQ(vocab->eos_id, 511);
  auto tok = Tokenizer::create(*vocab);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const std::vector<std::string> texts = {
      "Hello, world!", "the cat sat on the mat\n\ttabs and  spaces", "naïve café — 東京 🚀",
      std::string("\x00\xff\x80 bytes", 9)};
  for (const std::string& text : texts) {
    EncodeOptions o;
    o.add_bos = false;
    const std::vector<int32_t> ids = (*tok)->encode(text, o);
    // Raw token bytes give back any byte string; decode() also repairs UTF-8.
    std::string raw;
    for (int32_t id : ids) raw += (*tok)->token_bytes(id);
    EXPECT_EQ(raw, text);
    if (text[0] != '\0') {
      EXPECT_EQ((*tok)->decode(ids), text);
    }
  }
  // Merges are used: common words take fewer tokens than bytes.
  EncodeOptions o;
  o.add_bos = false;
  EXPECT_LT((*tok)->encode("the rest", o).size(), 8u);
  // BOS is added by default.
  EXPECT_EQ((*tok)->encode("hi", {}).front(), 510);
  // Large vocabularies are made as quickly.
  auto big = synth::make_byte_vocab(151936);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->size(), 151936);
  EXPECT_TRUE(Tokenizer::create(*big).ok());
  EXPECT_FALSE(synth::make_byte_vocab(100).ok());
}

TEST(Synth, RealVocabularyFromImportVocab) {
  SynthOptions o;
  o.preset = "tiny";
  o.vocab = std::string(TOKAMAK_SHARED_DATA) + "/models/aidreams260K/tok512.bin";
  o.output_path = kTmp + "/tiny-tok512.gguf";
  o.type_mix = "q8_0";
  auto r = synthesize(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto model = Model::load(r->output_path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->spec().vocab_size, 512);
  EXPECT_EQ((*model)->tokenizer().vocab().kind, VocabKind::Spm);
  EXPECT_EQ((*model)->tokenizer().bos_id(), 1);

  o.vocab = kTmp + "/no-such-tokenizer.model";
  auto bad = synthesize(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("no-such-tokenizer.model"), std::string::npos);
}

TEST(Synth, DemoModelIsWrittenOnceAndLoads) {
  const std::string dir = kTmp + "/demo-cache";
  fs::remove_all(dir);
  auto path = ensure_demo_model(dir);
  ASSERT_TRUE(path.ok()) << path.error().message;
  const auto mtime = fs::last_write_time(*path);
  auto again = ensure_demo_model(dir);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *path);
  EXPECT_EQ(fs::last_write_time(*again), mtime);
  auto model = Model::load(*path);
  ASSERT_TRUE(model.ok()) << model.error().message;
  EXPECT_EQ((*model)->spec().dim, 288);
  EXPECT_EQ((*model)->spec().num_layers, 6);
  EXPECT_EQ((*model)->spec().vocab_size, 512);
  EXPECT_EQ((*model)->weights().layers[0].wq.type, TensorType::Q8_0);
  // A damaged file is replaced.
  std::ofstream(*path, std::ios::trunc) << "garbage";
  auto repaired = ensure_demo_model(dir);
  ASSERT_TRUE(repaired.ok());
  EXPECT_TRUE(Model::load(*repaired).ok());
}

}  // namespace
}  // namespace tokamak

namespace tokamak {
namespace {

// Opt-in (writes ~20 GB): TOKAMAK_SYNTH_FULL_DIR=/big/disk runs every
// full-size preset in the mix people use and reads each file back.
TEST(SynthFull, EveryPresetAtFullSize) {
  const char* dir = std::getenv("TOKAMAK_SYNTH_FULL_DIR");
  if (dir == nullptr) GTEST_SKIP() << "set TOKAMAK_SYNTH_FULL_DIR to run (writes ~20 GB)";
  const std::pair<const char*, const char*> cases[] = {{"llama2-7b", "f16"},
                                                       {"llama3-8b", "q4_k_m"},
                                                       {"tinyllama-1.1b", "q8_0"},
                                                       {"qwen2.5-0.5b", "q4_k_m"},
                                                       {"smollm-135m", "bf16"}};
  for (const auto& [preset, mix] : cases) {
    SCOPED_TRACE(preset);
    SynthOptions o;
    o.preset = preset;
    o.type_mix = mix;
    o.output_path = std::string(dir) + "/" + preset + "-" + mix + ".gguf";
    auto r = synthesize(o);
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::printf("%-16s %-7s %6.2f GB in %6.2f s (%.2f GB/s)\n", preset, mix,
                r->file_size_bytes / 1e9, r->seconds, r->file_size_bytes / 1e9 / r->seconds);
    auto file = gguf::File::open(o.output_path);
    ASSERT_TRUE(file.ok()) << file.error().message;
    auto spec = ModelSpec::from_gguf(**file);
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    const SynthPreset p = *find_synth_preset(preset);
    EXPECT_EQ(spec->dim, p.dim);
    EXPECT_EQ(spec->hidden_dim, p.hidden_dim);
    EXPECT_EQ(spec->num_layers, p.num_layers);
    EXPECT_EQ(spec->num_heads, p.num_heads);
    EXPECT_EQ(spec->num_kv_heads, p.num_kv_heads);
    EXPECT_EQ(spec->vocab_size, p.vocab_size);
    EXPECT_EQ(spec->context_length, p.context_length);
    EXPECT_FLOAT_EQ(spec->rope.theta, p.rope_theta);
    EXPECT_EQ((*file)->tensors().size(), r->tensors.size());
    auto model = Model::load(o.output_path);
    ASSERT_TRUE(model.ok()) << model.error().message;
    fs::remove(o.output_path);
  }
}

}  // namespace
}  // namespace tokamak
