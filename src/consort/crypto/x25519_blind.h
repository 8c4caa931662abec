#pragma once
// Blinding for a DH-OPRF over X25519 (psi/unbalanced_psi.h): two secret X25519 scalars c, d,
// both already in clamped form (so X25519's clamping leaves them unchanged), with
// c * d = 1 (mod l), l the prime order of Curve25519's main subgroup. For any point P,
// X25519(d, X25519(k, X25519(c, P))) = X25519(k, P): the client blinds with c, the server
// applies its key k, the client removes c with d.
//
// c is drawn uniformly among clamped scalars (2^254 + 8m, m < 2^251) whose inverse mod l also
// has a clamped representative (rejection sampling, about 2 tries on average): about 2^249.6
// residues mod l, the same kind of restricted-exponent DH assumption X25519 itself makes
// (clamped scalars cover about half of the residues).
// Scalar arithmetic mod l is libsodium's crypto_core_ed25519_scalar_* (vetted), not
// hand-rolled; protocols use this type, never libsodium directly.

#include "consort/common/status.h"
#include "consort/crypto/curve25519.h"
#include "consort/crypto/random.h"

namespace consort::crypto {

struct X25519BlindPair {
  SecretBytes blind;    // c, 32 bytes little-endian, clamped form
  SecretBytes unblind;  // d = c^-1 (mod l), clamped form
};

// A fresh pair from the CSPRNG. Internal if libsodium's scalar arithmetic fails.
StatusOr<X25519BlindPair> GenerateX25519BlindPair();

}  // namespace consort::crypto
