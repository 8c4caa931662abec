#include "consort/common/json.h"

#include <string>

namespace consort {
namespace {
std::string Field(std::string_view path, std::string_view key) {
  return std::string(path) + "." + std::string(key);
}
}  // namespace

StatusOr<Json> ParseJson(std::string_view text, std::string_view source) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    size_t offset = e.byte == 0 ? 0 : e.byte - 1;
    if (offset > text.size()) offset = text.size();
    size_t line = 1, col = 1;
    for (size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string what = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at line L, column C: ".
    auto pos = what.find(": ");
    std::string reason = pos == std::string::npos ? what : what.substr(pos + 2);
    return absl::InvalidArgumentError(std::string(source) + ":" + std::to_string(line) + ":" +
                                      std::to_string(col) + ": malformed JSON: " + reason);
  }
}

StatusOr<std::string> CanonicalJson(const Json& value) {
  try {
    return value.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(std::string("cannot serialize JSON: ") + e.what());
  }
}

StatusOr<std::string> GetString(const Json& obj, std::string_view key, std::string_view path) {
  if (!obj.is_object()) return absl::InvalidArgumentError(std::string(path) + " must be an object");
  auto it = obj.find(std::string(key));
  if (it == obj.end()) return absl::InvalidArgumentError("missing field " + Field(path, key));
  if (!it->is_string()) return absl::InvalidArgumentError(Field(path, key) + " must be a string");
  return it->get<std::string>();
}

StatusOr<const Json*> GetObject(const Json& obj, std::string_view key, std::string_view path) {
  if (!obj.is_object()) return absl::InvalidArgumentError(std::string(path) + " must be an object");
  auto it = obj.find(std::string(key));
  if (it == obj.end()) return absl::InvalidArgumentError("missing field " + Field(path, key));
  if (!it->is_object()) return absl::InvalidArgumentError(Field(path, key) + " must be an object");
  return &*it;
}

StatusOr<const Json*> GetArray(const Json& obj, std::string_view key, std::string_view path) {
  if (!obj.is_object()) return absl::InvalidArgumentError(std::string(path) + " must be an object");
  auto it = obj.find(std::string(key));
  if (it == obj.end()) return absl::InvalidArgumentError("missing field " + Field(path, key));
  if (!it->is_array()) return absl::InvalidArgumentError(Field(path, key) + " must be an array");
  return &*it;
}

}  // namespace consort
