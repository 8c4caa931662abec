#pragma once
// Batched base oblivious transfer: the "simplest OT" of Chou and Orlandi, "The Simplest
// Protocol for Oblivious Transfer", LATINCRYPT 2015 (section 3, figure 1), over ristretto255
// (crypto/ristretto.h), producing random 1-out-of-2 OTs of 128-bit keys, plus a chosen-message
// layer on top.
//
// Message flow for n OTs (sender S with secret scalar a, receiver R with choice bits c_i):
//   S -> R  "CO15" tag, n (u32 LE), A = aG                                       (36 B + 4 B)
//   R -> S  B_i = b_i G + c_i A for i < n                                         (32n B)
//   S: k_i^0 = H(i, A, B_i, a B_i), k_i^1 = H(i, A, B_i, a (B_i - A));  R: k_i^{c_i} = H(i, A, B_i,
//   b_i A) chosen messages only:  S -> R  m_i^0 ^ k_i^0, m_i^1 ^ k_i^1               (32n B)
// H = SHA-256 over a domain-separation string, the session `domain`, i and the transcript
// (A, B_i), truncated to 16 bytes. Rounds: 1.5 (random OT), 2 messages plus 1 for chosen OT.
//
// Security model: semi-honest sender and receiver; 128-bit computational (CDH in ristretto255,
// H a random oracle). Known caveats of CO15: its original UC-security claim against malicious
// parties does not hold as stated (Genc, Iovino and Rial, ePrint 2017/370; Byali, Patra,
// Ravi, Sarkar, ePrint 2017/1165: a malicious receiver can delay fixing its choice, and the
// sender's A is reused across the batch); hashing A and B_i into every key (as here) is the
// usual mitigation, but Consort uses this OT only for the semi-honest OT extension.
// Peer points are decoded canonically (InvalidArgument otherwise).
// Leaks: nothing beyond the OT functionality (S learns nothing about c; R learns only k^{c_i}).
//
// Thread safety: functions are reentrant; the link must not be used by others meanwhile.

#include <array>
#include <string_view>
#include <vector>

#include "consort/common/status.h"
#include "consort/net/link.h"
#include "consort/ot/block.h"

namespace consort::ot {

// Upper bound on base OTs per call (keeps every message under net::kMaxMessageBytes).
inline constexpr size_t kMaxBaseOts = 1u << 16;

// Sender side of n random OTs: returns n key pairs {k^0, k^1}.
// Errors: InvalidArgument (n out of range, malformed reply), Unavailable/DeadlineExceeded/
// Cancelled from the link.
StatusOr<std::vector<std::array<Block, 2>>> BaseOtSendRandom(net::Link& link, size_t n,
                                                             std::string_view domain);
// Receiver side: returns k^{c_i} for each choice bit; n = choices.size() must match the sender.
StatusOr<std::vector<Block>> BaseOtReceiveRandom(net::Link& link, const std::vector<bool>& choices,
                                                 std::string_view domain);

// Chosen-message OT: the receiver learns messages[i][choices[i]] and nothing about the other.
Status BaseOtSend(net::Link& link, const std::vector<std::array<Block, 2>>& messages,
                  std::string_view domain);
StatusOr<std::vector<Block>> BaseOtReceive(net::Link& link, const std::vector<bool>& choices,
                                           std::string_view domain);

}  // namespace consort::ot
