#pragma once
// Test helpers for the audit tests (header-only; not part of the library).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "consort/audit/entry.h"
#include "consort/audit/log_store.h"
#include "consort/common/sqlite.h"
#include "consort/common/test_temp_dir.h"
#include "consort/crypto/sign.h"

namespace consort::audit::testing {

inline crypto::SigningKey KeyFromByte(uint8_t b) {
  Bytes seed(32, b);
  auto key = crypto::SigningKey::FromSeed(seed);
  CONSORT_CHECK(key.ok());
  return std::move(key).value();
}

inline Json RegistrationBody(const std::string& name, const crypto::SigningKey& key) {
  NodeRegistration r;
  r.name = name;
  r.signing_key = key.public_key();
  r.tls_fingerprint = std::string(64, 'a');
  r.address = name + ".example:7443";
  return r.ToBody();
}

// A fresh directory, removed with its contents at the end of the test.
using TempDir = TestTempDir;

// A federation with a coordinator and two nodes, "bank" and "insurer".
struct Federation {
  crypto::SigningKey coordinator = KeyFromByte(1);
  crypto::SigningKey bank = KeyFromByte(2);
  crypto::SigningKey insurer = KeyFromByte(3);
  crypto::SigningKey mallory = KeyFromByte(9);

  const crypto::SigningKey& KeyOf(const std::string& author) const {
    if (author == "coordinator") return coordinator;
    if (author == "bank") return bank;
    return insurer;
  }

  Entry Make(const std::string& kind, const std::string& author, int64_t time_ms, Json body) const {
    auto e = MakeAuthorPart(kind, author, time_ms, std::move(body), KeyOf(author));
    CONSORT_CHECK(e.ok());
    return std::move(e).value();
  }

  // `n` (>= 6) author parts: invites and registrations first, then datasets and job traffic.
  std::vector<Entry> Script(int n) const {
    std::vector<Entry> out;
    int64_t t = 1'700'000'000'000;
    out.push_back(Make("invite.created", "coordinator", t++, {{"invitee", "bank"}}));
    out.push_back(Make("node.registered", "bank", t++, RegistrationBody("bank", bank)));
    out.push_back(Make("invite.created", "coordinator", t++, {{"invitee", "insurer"}}));
    out.push_back(Make("node.registered", "insurer", t++, RegistrationBody("insurer", insurer)));
    out.push_back(Make("dataset.registered", "bank", t++, {{"dataset", "customers"}}));
    out.push_back(Make("dataset.registered", "insurer", t++, {{"dataset", "claims"}}));
    for (int job = 0; static_cast<int>(out.size()) < n; ++job) {
      std::string id = "job-" + std::to_string(job);
      Entry steps[] = {
          Make("job.submitted", "bank", t++, {{"job", id}, {"op", "psi.ecdh"}}),
          Make("job.approved", "insurer", t++, {{"job", id}}),
          Make("job.state", "coordinator", t++, {{"job", id}, {"state", "running"}}),
          Make("result.delivered", "bank", t++, {{"job", id}, {"rows", job * 10}}),
      };
      for (auto& s : steps) {
        if (static_cast<int>(out.size()) < n) out.push_back(std::move(s));
      }
    }
    return out;
  }
};

}  // namespace consort::audit::testing
