#pragma once
// JSON values (nlohmann::json) and their canonical form.
//
// Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace,
// strings as UTF-8 with only the escapes JSON requires, numbers in their shortest round-trip
// form. The job id is the SHA-256 of the canonical form of the spec, so two specs that mean
// the same thing have the same id whatever their formatting.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "consort/common/status.h"

namespace consort {

using Json = nlohmann::json;

// Parses `text`. On a syntax error returns InvalidArgument naming `source`, the line and the
// column ("spec.json:3:14: ...").
StatusOr<Json> ParseJson(std::string_view text, std::string_view source = "<input>");

// The canonical serialization. InvalidArgument if a string is not valid UTF-8.
StatusOr<std::string> CanonicalJson(const Json& value);

// Typed accessors for validating untrusted JSON; errors name the field path ("$.parties.bank").
StatusOr<std::string> GetString(const Json& obj, std::string_view key, std::string_view path);
StatusOr<const Json*> GetObject(const Json& obj, std::string_view key, std::string_view path);
StatusOr<const Json*> GetArray(const Json& obj, std::string_view key, std::string_view path);

}  // namespace consort
