#pragma once
// Scope guards that wipe protocol secrets (shared points, derived keys, PRF outputs, shares)
// when the scope ends, on every return path including errors, through SecureWipe (random.h).
// Not thread-safe (a guard belongs to one scope).

#include <algorithm>
#include <type_traits>
#include <vector>

#include "consort/crypto/random.h"

namespace consort::crypto {

// Wipes a trivially copyable object's bytes.
template <typename T>
void WipeObject(T& obj) {
  static_assert(std::is_trivially_copyable_v<T>);
  SecureWipe(&obj, sizeof(T));
}

// Wipes a vector's elements (size(), not capacity(); callers size it once, before filling).
template <typename T>
void WipeObject(std::vector<T>& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  SecureWipe(v.data(), v.size() * sizeof(T));
}

// Clears choice bits. Best effort: std::vector<bool> exposes no buffer for SecureWipe, so this
// is an ordinary fill (not guaranteed against elision, though the heap buffer escapes).
inline void WipeObject(std::vector<bool>& v) { std::fill(v.begin(), v.end(), false); }

// Wipes `obj` (an object or a vector as above) when it goes out of scope. A vector moved out
// to the caller (returned) is empty by then, so only what stays behind is wiped.
template <typename T>
class WipeOnExit {
 public:
  explicit WipeOnExit(T& obj) : obj_(obj) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { WipeObject(obj_); }

 private:
  T& obj_;
};

}  // namespace consort::crypto
