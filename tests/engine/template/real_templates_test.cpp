// The 25 real chat templates of ../shared/data/chat-templates rendered by our
// engine, compared byte for byte with Python jinja2 configured as
// transformers configures it (tests/reference/make_template_fixtures.py
// wrote the expected outputs to tests/fixtures/templates/).
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include "template/chat_template.h"

namespace tokamak {
namespace {

using json = nlohmann::ordered_json;

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

const json& templates() {
  static const json t =
      read_json(std::string(TOKAMAK_SHARED_DATA) + "/chat-templates/templates.json");
  return t;
}

const json& conversations() {
  static const json c = read_json(std::string(TOKAMAK_SOURCE_DIR) +
                                  "/tests/fixtures/templates/conversations.json")["conversations"];
  return c;
}

// The instant the generator pinned strftime_now to: 2024-09-05 13:07:09 local.
std::time_t fixed_now() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 8;
  tm.tm_mday = 5;
  tm.tm_hour = 13;
  tm.tm_min = 7;
  tm.tm_sec = 9;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

ChatInput input_for(const json& entry, const json& conversation, bool add_generation_prompt) {
  ChatInput in;
  in.messages = conversation["messages"];
  in.add_generation_prompt = add_generation_prompt;
  if (entry["bos_token"].is_string()) in.bos_token = entry["bos_token"].get<std::string>();
  if (entry["eos_token"].is_string()) in.eos_token = entry["eos_token"].get<std::string>();
  for (const auto& [k, v] : conversation["extra"].items()) {
    if (k == "tools") {
      in.tools = v;
    } else if (k == "documents") {
      in.documents = v;
    } else {
      in.extra[k] = v;
    }
  }
  in.now = fixed_now();
  return in;
}

class RealTemplate : public ::testing::TestWithParam<std::string> {};

TEST_P(RealTemplate, MatchesJinja2ByteForByte) {
  const std::string name = GetParam();
  const json* entry = nullptr;
  for (const auto& e : templates()) {
    if (e["name"] == name) entry = &e;
  }
  ASSERT_NE(entry, nullptr) << name << " is not in templates.json";
  const json expected =
      read_json(std::string(TOKAMAK_SOURCE_DIR) + "/tests/fixtures/templates/" + name + ".json");
  auto parsed = ChatTemplate::parse((*entry)["template"].get<std::string>(), name);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;

  int num_outputs = 0, num_raised = 0, num_errors = 0;
  for (const auto& c : expected["cases"]) {
    const std::string conv = c["conversation"];
    const bool agp = c["add_generation_prompt"];
    SCOPED_TRACE(name + " / " + conv + (agp ? " / add_generation_prompt" : ""));
    auto out = parsed->render(input_for(*entry, conversations()[conv], agp));
    if (c.contains("output")) {
      ++num_outputs;
      ASSERT_TRUE(out.ok()) << out.error().message;
      EXPECT_EQ(*out, c["output"].get<std::string>());
    } else if (c.contains("raised")) {
      ++num_raised;
      ASSERT_FALSE(out.ok()) << "rendered:\n" << *out;
      EXPECT_EQ(out.error().code, ErrorCode::InvalidRequest);
      EXPECT_EQ(out.error().message, c["raised"].get<std::string>());
    } else {
      ++num_errors;
      ASSERT_FALSE(out.ok()) << "jinja2 failed with " << c["error"] << ", we rendered:\n" << *out;
      EXPECT_EQ(out.error().code, ErrorCode::BadFormat) << out.error().message;
      EXPECT_EQ(out.error().message.rfind(name + ":", 0), 0u) << out.error().message;
    }
  }
  EXPECT_GT(num_outputs, 0);
  RecordProperty("outputs", num_outputs);
  RecordProperty("raised", num_raised);
  RecordProperty("errors", num_errors);
}

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const auto& e : templates()) names.push_back(e["name"].get<std::string>());
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s;
  for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Families, RealTemplate, ::testing::ValuesIn(template_names()), test_name);

TEST(RealTemplates, AllTwentyFiveFamiliesHaveFixtures) {
  EXPECT_EQ(templates().size(), 25u);
  for (const auto& e : templates()) {
    std::ifstream f(std::string(TOKAMAK_SOURCE_DIR) + "/tests/fixtures/templates/" +
                    e["name"].get<std::string>() + ".json");
    EXPECT_TRUE(f.good()) << e["name"] << " has no fixture";
  }
}

}  // namespace
}  // namespace tokamak
