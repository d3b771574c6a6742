#include "store/prompt_files.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>

namespace tokamak {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kFormat = "tokamak-prompts";
constexpr int kFormatVersion = 1;

Error bad(const std::string& message) { return make_error(ErrorCode::BadFormat, message); }

// "LINE:COLUMN" of a byte offset (1-based).
std::string line_column(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return fmt::format("{}:{}", line, offset - line_start + 1);
}

json version_to_json(const PromptVersion& v) {
  json j = json::object();
  j["version"] = v.version;
  j["created_at"] = v.created_at;
  j["body"] = v.content.body;
  j["notes"] = v.content.notes;
  j["tags"] = v.content.tags;
  j["restored_from"] = v.restored_from > 0 ? json(v.restored_from) : json(nullptr);
  return j;
}

// Field readers for JSON objects; `where` is the path in messages.
class Fields {
 public:
  Fields(const json& object, std::string where, const std::string& file)
      : j_(object), where_(std::move(where)), file_(file) {}

  Result<const json*> get(const char* key, json::value_t type, bool required) const {
    if (!j_.is_object()) return bad(fmt::format("{}: {}: expected an object", file_, where_));
    const auto it = j_.find(key);
    if (it == j_.end() || (it->is_null() && !required)) {
      if (required) return bad(fmt::format("{}: {}: missing field '{}'", file_, where_, key));
      return static_cast<const json*>(nullptr);
    }
    const bool ok =
        type == json::value_t::number_integer ? it->is_number_integer() : it->type() == type;
    if (!ok) {
      return bad(fmt::format("{}: {}.{}: expected {}, found {}", file_, where_, key,
                             json(type).type_name(), it->type_name()));
    }
    return &*it;
  }
  Result<std::string> string(const char* key, bool required = true) const {
    TK_ASSIGN(const json* v, get(key, json::value_t::string, required));
    return v ? v->get<std::string>() : std::string();
  }
  Result<int64_t> integer(const char* key, bool required = true) const {
    TK_ASSIGN(const json* v, get(key, json::value_t::number_integer, required));
    return v ? v->get<int64_t>() : int64_t{0};
  }
  Result<std::vector<std::string>> strings(const char* key) const {
    TK_ASSIGN(const json* v, get(key, json::value_t::array, false));
    std::vector<std::string> out;
    if (!v) return out;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        return bad(fmt::format("{}: {}.{}[{}]: expected string, found {}", file_, where_, key, i,
                               (*v)[i].type_name()));
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
  const std::string& file_;
};

Result<int32_t> version_number(int64_t v, const std::string& file, const std::string& where) {
  if (v < 0 || v > 1'000'000'000) {
    return bad(fmt::format("{}: {}: {} is not a version number", file, where, v));
  }
  return static_cast<int32_t>(v);
}

Result<PromptVersion> version_from_json(const json& j, const std::string& where,
                                        const std::string& file) {
  const Fields f(j, where, file);
  PromptVersion v;
  TK_ASSIGN(int64_t number, f.integer("version"));
  TK_ASSIGN(v.version, version_number(number, file, where + ".version"));
  if (v.version < 1) return bad(fmt::format("{}: {}.version: versions start at 1", file, where));
  TK_ASSIGN(v.created_at, f.string("created_at"));
  TK_ASSIGN(v.content.body, f.string("body"));
  TK_ASSIGN(v.content.notes, f.string("notes", false));
  TK_ASSIGN(v.content.tags, f.strings("tags"));
  TK_ASSIGN(int64_t restored, f.integer("restored_from", false));
  TK_ASSIGN(v.restored_from, version_number(restored, file, where + ".restored_from"));
  return v;
}

Result<Prompt> prompt_from_json(const json& j, const std::string& where, const std::string& file) {
  const Fields f(j, where, file);
  Prompt p;
  TK_ASSIGN(p.name, f.string("name"));
  TK_ASSIGN(p.created_at, f.string("created_at", false));
  TK_ASSIGN(const json* versions, f.get("versions", json::value_t::array, true));
  if (versions->empty()) return bad(fmt::format("{}: {}.versions: empty", file, where));
  for (size_t i = 0; i < versions->size(); ++i) {
    TK_ASSIGN(PromptVersion v,
              version_from_json((*versions)[i], fmt::format("{}.versions[{}]", where, i), file));
    p.versions.push_back(std::move(v));
  }
  return p;
}

// ---- Markdown front matter ----

struct FrontLine {
  int line = 0;
  std::string key;
  std::string value;  // trimmed
};

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// A JSON value if the text looks like one, else the bare text as a string.
Result<json> front_value(const FrontLine& l, const std::string& file) {
  const char c = l.value.empty() ? '\0' : l.value.front();
  const bool looks_json =
      c == '"' || c == '[' || c == '-' || (c >= '0' && c <= '9') || l.value == "null";
  if (!looks_json) return json(l.value);
  json v = json::parse(l.value, nullptr, false);
  if (v.is_discarded()) {
    return bad(
        fmt::format("{}:{}: front matter: the value of '{}' is not valid (a JSON string "
                    "in double quotes, a list or a number): {}",
                    file, l.line, l.key, l.value));
  }
  return v;
}

Result<std::string> front_string(const FrontLine& l, const std::string& file) {
  TK_ASSIGN(json v, front_value(l, file));
  if (!v.is_string()) {
    return bad(fmt::format("{}:{}: front matter: '{}' must be text, found {}", file, l.line, l.key,
                           v.type_name()));
  }
  return v.get<std::string>();
}

Result<int32_t> front_int(const FrontLine& l, const std::string& file) {
  TK_ASSIGN(json v, front_value(l, file));
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 1'000'000'000) {
    return bad(fmt::format("{}:{}: front matter: '{}' must be a whole number, found {}", file,
                           l.line, l.key, l.value));
  }
  return static_cast<int32_t>(v.get<int64_t>());
}

Result<std::vector<std::string>> front_tags(const FrontLine& l, const std::string& file) {
  FrontLine bare = l;  // YAML's flow list of bare words: [a, b]
  if (l.value.size() >= 2 && l.value.front() == '[' && l.value.back() == ']' &&
      json::parse(l.value, nullptr, false).is_discarded()) {
    bare.value = l.value.substr(1, l.value.size() - 2);
  }
  TK_ASSIGN(json v, front_value(bare, file));
  std::vector<std::string> tags;
  if (v.is_string()) {  // bare "a, b"
    const std::string s = v.get<std::string>();
    for (size_t pos = 0; pos <= s.size();) {
      const size_t comma = std::min(s.find(',', pos), s.size());
      const std::string tag = trim(std::string_view(s).substr(pos, comma - pos));
      if (!tag.empty()) tags.push_back(tag);
      pos = comma + 1;
    }
    return tags;
  }
  if (!v.is_array()) {
    return bad(fmt::format("{}:{}: front matter: 'tags' must be a list, found {}", file, l.line,
                           v.type_name()));
  }
  for (const json& t : v) {
    if (!t.is_string()) {
      return bad(fmt::format("{}:{}: front matter: every tag must be text, found {}", file, l.line,
                             t.type_name()));
    }
    tags.push_back(t.get<std::string>());
  }
  return tags;
}

Status apply_front_line(const FrontLine& l, const std::string& file, Prompt& p, PromptVersion& v,
                        bool& has_name) {
  if (l.key == "name") {
    TK_ASSIGN(p.name, front_string(l, file));
    has_name = true;
  } else if (l.key == "tags") {
    TK_ASSIGN(v.content.tags, front_tags(l, file));
  } else if (l.key == "notes") {
    TK_ASSIGN(v.content.notes, front_string(l, file));
  } else if (l.key == "version") {
    TK_ASSIGN(v.version, front_int(l, file));
    if (v.version < 1)
      return bad(fmt::format("{}:{}: front matter: versions start at 1", file, l.line));
  } else if (l.key == "created_at") {
    TK_ASSIGN(v.created_at, front_string(l, file));
  } else if (l.key == "prompt_created_at") {
    TK_ASSIGN(p.created_at, front_string(l, file));
  } else if (l.key == "restored_from") {
    TK_ASSIGN(v.restored_from, front_int(l, file));
  } else {
    return bad(
        fmt::format("{}:{}: front matter: unknown key '{}' (known: name, tags, notes, "
                    "version, created_at, prompt_created_at, restored_from)",
                    file, l.line, l.key));
  }
  return {};
}

std::string file_name_of(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

std::string extension_of(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

std::string prompts_to_json(const std::vector<Prompt>& prompts) {
  json root = json::object();
  root["format"] = kFormat;
  root["format_version"] = kFormatVersion;
  root["prompts"] = json::array();
  for (const Prompt& p : prompts) {
    json jp = json::object();
    jp["name"] = p.name;
    jp["created_at"] = p.created_at;
    jp["versions"] = json::array();
    for (const PromptVersion& v : p.versions) jp["versions"].push_back(version_to_json(v));
    root["prompts"].push_back(std::move(jp));
  }
  return root.dump(2) + "\n";
}

Result<std::vector<Prompt>> prompts_from_json(std::string_view text, const std::string& file) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based: the byte at which parsing stopped.
    const size_t at = e.byte > 0 ? e.byte - 1 : 0;
    std::string what = e.what();
    const size_t colon = what.find(": ", what.find("parse error"));
    what = colon != std::string::npos ? what.substr(colon + 2) : what;
    return bad(fmt::format("{}:{}: not valid JSON: {}", file, line_column(text, at), what));
  }
  const Fields f(root, "top level", file);
  TK_ASSIGN(std::string format, f.string("format"));
  if (format != kFormat) {
    return bad(fmt::format("{}: format is '{}', expected '{}'", file, format, kFormat));
  }
  TK_ASSIGN(int64_t version, f.integer("format_version"));
  if (version != kFormatVersion) {
    return make_error(ErrorCode::Unsupported,
                      fmt::format("{}: format_version {} is not supported (this Tokamak reads "
                                  "version {})",
                                  file, version, kFormatVersion));
  }
  TK_ASSIGN(const json* list, f.get("prompts", json::value_t::array, true));
  std::vector<Prompt> out;
  for (size_t i = 0; i < list->size(); ++i) {
    TK_ASSIGN(Prompt p, prompt_from_json((*list)[i], fmt::format("prompts[{}]", i), file));
    out.push_back(std::move(p));
  }
  return out;
}

std::string prompt_to_markdown(const Prompt& p) {
  const PromptVersion& v = p.latest();
  std::string out = "---\n";
  out += "name: " + json(p.name).dump() + "\n";
  out += "tags: " + json(v.content.tags).dump() + "\n";
  out += "notes: " + json(v.content.notes).dump() + "\n";
  out += fmt::format("version: {}\n", v.version);
  out += "created_at: " + json(v.created_at).dump() + "\n";
  out += "prompt_created_at: " + json(p.created_at).dump() + "\n";
  if (v.restored_from > 0) out += fmt::format("restored_from: {}\n", v.restored_from);
  out += "---\n";
  out += v.content.body;
  return out;
}

Result<Prompt> prompt_from_markdown(std::string_view text, const std::string& file) {
  size_t pos = 0;
  int line = 0;
  auto next_line = [&](std::string_view& l) {
    if (pos >= text.size()) return false;
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? text.size() : nl;
    l = text.substr(pos, end - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line;
    return true;
  };
  std::string_view l;
  if (!next_line(l) || trim(l) != "---") {
    return bad(fmt::format("{}:1: front matter: the file must start with a '---' line", file));
  }
  Prompt p;
  PromptVersion v;
  v.version = 1;
  bool has_name = false, closed = false;
  while (next_line(l)) {
    if (trim(l) == "---") {
      closed = true;
      break;
    }
    if (trim(l).empty() || trim(l).front() == '#') continue;
    const size_t colon = l.find(':');
    if (colon == std::string_view::npos) {
      return bad(fmt::format("{}:{}: front matter: expected 'key: value', found '{}'", file, line,
                             trim(l)));
    }
    const FrontLine fl{line, trim(l.substr(0, colon)), trim(l.substr(colon + 1))};
    TK_TRY(apply_front_line(fl, file, p, v, has_name));
  }
  if (!closed) {
    return bad(fmt::format("{}:{}: front matter: no closing '---' line", file, line));
  }
  if (!has_name) return bad(fmt::format("{}: front matter: missing field 'name'", file));
  if (v.restored_from >= v.version) {
    return bad(fmt::format("{}: front matter: restored_from {} must be below version {}", file,
                           v.restored_from, v.version));
  }
  v.content.body = std::string(text.substr(pos));
  p.versions.push_back(std::move(v));
  return p;
}

Result<std::vector<Prompt>> read_prompt_file(const std::string& path) {
  const std::string ext = extension_of(path);
  if (ext != ".json" && ext != ".md") {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("{}: a prompt file must end in .json or .md", path));
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return make_error(ErrorCode::IoError,
                      fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  }
  const std::string text{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  const std::string name = file_name_of(path);
  if (ext == ".json") return prompts_from_json(text, name);
  TK_ASSIGN(Prompt p, prompt_from_markdown(text, name));
  return std::vector<Prompt>{std::move(p)};
}

Status write_prompt_file(const std::string& path, const std::vector<Prompt>& prompts) {
  const std::string ext = extension_of(path);
  std::string text;
  if (ext == ".json") {
    text = prompts_to_json(prompts);
  } else if (ext == ".md") {
    if (prompts.size() != 1) {
      return make_error(
          ErrorCode::InvalidArgument,
          fmt::format("{}: a Markdown file holds one prompt, not {}", path, prompts.size()));
    }
    text = prompt_to_markdown(prompts.front());
  } else {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("{}: a prompt file must end in .json or .md", path));
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!f.flush()) {
      std::filesystem::remove(tmp);
      return make_error(ErrorCode::IoError, fmt::format("{}: cannot write", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error(ErrorCode::IoError, fmt::format("{}: {}", path, ec.message()));
  return {};
}

}  // namespace tokamak
