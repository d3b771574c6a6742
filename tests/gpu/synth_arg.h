// The GPU benches' model argument "synth:PRESET[:TYPE_MIX]": a synthetic
// model of a preset (app/synth), written to the temporary folder.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "synth/synth.h"

namespace tokamak {

// The synthesis options of a "synth:PRESET[:TYPE_MIX]" argument (TYPE_MIX
// defaults to default_type_mix; the output is TMP/PRESET-TYPE_MIX.gguf), or
// nullopt for any other argument (a GGUF path).
inline std::optional<SynthOptions> parse_synth_arg(const std::string& arg,
                                                   const std::string& default_type_mix) {
  if (arg.rfind("synth:", 0) != 0) return std::nullopt;
  const std::string rest = arg.substr(6);
  const size_t colon = rest.find(':');
  SynthOptions so;
  so.preset = rest.substr(0, colon);
  so.type_mix = colon == std::string::npos ? default_type_mix : rest.substr(colon + 1);
  so.output_path =
      (std::filesystem::temp_directory_path() / (so.preset + "-" + so.type_mix + ".gguf")).string();
  return so;
}

}  // namespace tokamak
