#pragma once
// TLS identities for mutual TLS between coordinator and nodes (OpenSSL).
//
// Each node and the coordinator generate their own key pair (ECDSA P-256) and a self-signed
// X.509 certificate. Peers never trust a CA: they pin the exact certificate, identified by the
// SHA-256 of its DER encoding, as recorded in the federation registry.

#include <string>

#include "consort/common/status.h"

namespace consort::crypto {

struct TlsIdentity {
  std::string key_pem;   // PKCS#8 private key; secret, store 0600
  std::string cert_pem;  // self-signed certificate
};

// A fresh P-256 key and a self-signed certificate valid for 10 years, with subject CN
// `common_name` and subjectAltName DNS:`common_name`, DNS:localhost, IP:127.0.0.1.
StatusOr<TlsIdentity> GenerateTlsIdentity(const std::string& common_name);

// Lowercase hex SHA-256 of the certificate's DER encoding. InvalidArgument if `cert_pem` is
// not exactly one parseable certificate.
StatusOr<std::string> CertificateFingerprint(const std::string& cert_pem);

// The subject common name. InvalidArgument if unparseable.
StatusOr<std::string> CertificateCommonName(const std::string& cert_pem);

}  // namespace consort::crypto
