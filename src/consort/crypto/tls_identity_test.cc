#include "consort/crypto/tls_identity.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace consort::crypto {
namespace {

// Generated with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj
// /CN=kat-node`; expected fingerprint from `openssl x509 -outform DER | sha256sum`.
constexpr char kKatCert[] = R"(-----BEGIN CERTIFICATE-----
MIIBezCCASGgAwIBAgIUX3eBvCHzpA8/p4gZJ/C+aqBxbn0wCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIa2F0LW5vZGUwHhcNMjYxMTIyMTQ0MDE4WhcNMzYxMTE5MTQ0
MDE4WjATMREwDwYDVQQDDAhrYXQtbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABIOQHGRcm5fUEa0AAdZ/IByOPCn8QSxzDk2dCj+W5tynEMjtl4QFCZcoTmms
4Qz4cEZOCC7xE4ewWHARYv0FGDKjUzBRMB0GA1UdDgQWBBSVhnjf3ENUEENjVj+h
JZmz+4CIKjAfBgNVHSMEGDAWgBSVhnjf3ENUEENjVj+hJZmz+4CIKjAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIBnoJKMGRGfV9YPJ0aP8yah+GfWP
xD8QIBkqW+B4AnW8AiEA2xnp5EO9PBbiRK7HA67WR29Hx1/OQxdExWjZJCh1zhg=
-----END CERTIFICATE-----
)";
constexpr char kKatFingerprint[] =
    "6a671690007aaf5977b7a3a7c1a547a416283a5466f995095a2ec2952dc531dc";

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

std::unique_ptr<X509, X509Free> ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return std::unique_ptr<X509, X509Free>(x);
}

std::unique_ptr<EVP_PKEY, PkeyFree> ParseKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return std::unique_ptr<EVP_PKEY, PkeyFree>(k);
}

TEST(TlsIdentity, FingerprintMatchesKnownAnswer) {
  auto fp = CertificateFingerprint(kKatCert);
  ASSERT_TRUE(fp.ok()) << fp.status();
  EXPECT_EQ(*fp, kKatFingerprint);
  auto cn = CertificateCommonName(kKatCert);
  ASSERT_TRUE(cn.ok()) << cn.status();
  EXPECT_EQ(*cn, "kat-node");
}

TEST(TlsIdentity, GeneratedCertificateHasTheRequiredShape) {
  auto id = GenerateTlsIdentity("bank-a");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_NE(id->key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);  // PKCS#8

  auto cert = ParseCert(id->cert_pem);
  auto key = ParseKey(id->key_pem);
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  char group[64] = {};
  size_t group_len = 0;
  ASSERT_EQ(EVP_PKEY_get_utf8_string_param(key.get(), "group", group, sizeof(group), &group_len),
            1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);

  // Self-signed: the signature verifies under its own public key.
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);

  // Valid now, and for (about) ten years.
  time_t now = time(nullptr);
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(cert.get()), &now), 0);
  time_t in_9_years = now + 9L * 365 * 24 * 3600;
  time_t in_11_years = now + 11L * 365 * 24 * 3600;
  EXPECT_GT(X509_cmp_time(X509_get0_notAfter(cert.get()), &in_9_years), 0);
  EXPECT_LT(X509_cmp_time(X509_get0_notAfter(cert.get()), &in_11_years), 0);

  // subjectAltName DNS:bank-a, DNS:localhost, IP:127.0.0.1 (checked through OpenSSL's own
  // host/IP matching, which reads the SAN extension).
  EXPECT_EQ(X509_check_host(cert.get(), "bank-a", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_host(cert.get(), "bank-b", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);  // CA:FALSE
}

TEST(TlsIdentity, FingerprintIsStableLowercaseHex) {
  auto id = GenerateTlsIdentity("node-1");
  ASSERT_TRUE(id.ok()) << id.status();
  auto fp1 = CertificateFingerprint(id->cert_pem);
  auto fp2 = CertificateFingerprint(id->cert_pem);
  ASSERT_TRUE(fp1.ok() && fp2.ok());
  EXPECT_EQ(*fp1, *fp2);
  ASSERT_EQ(fp1->size(), 64u);
  for (char c : *fp1) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
  // Insignificant PEM framing (CRLF line ends) does not change the fingerprint of the DER.
  std::string crlf;
  for (char c : id->cert_pem) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto fp3 = CertificateFingerprint(crlf);
  ASSERT_TRUE(fp3.ok()) << fp3.status();
  EXPECT_EQ(*fp3, *fp1);
}

TEST(TlsIdentity, TwoIdentitiesDiffer) {
  auto a = GenerateTlsIdentity("same");
  auto b = GenerateTlsIdentity("same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->key_pem, b->key_pem);
  EXPECT_NE(*CertificateFingerprint(a->cert_pem), *CertificateFingerprint(b->cert_pem));
  auto ca = ParseCert(a->cert_pem);
  auto cb = ParseCert(b->cert_pem);
  ASSERT_TRUE(ca && cb);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(cb.get())),
            0);
}

TEST(TlsIdentity, CommonNameRoundTrips) {
  for (const std::string& name : std::vector<std::string>{"a", "coordinator", "bank_b.example-1",
                                                         std::string(64, 'x')}) {
    auto id = GenerateTlsIdentity(name);
    ASSERT_TRUE(id.ok()) << name << ": " << id.status();
    auto cn = CertificateCommonName(id->cert_pem);
    ASSERT_TRUE(cn.ok()) << cn.status();
    EXPECT_EQ(*cn, name);
  }
}

TEST(TlsIdentity, RejectsUnsafeCommonNames) {
  for (const std::string& name :
       {std::string(), std::string(65, 'x'), std::string("a,IP:10.0.0.1"), std::string("a b"),
        std::string("-x"), std::string("caf\xc3\xa9"), std::string("a\0b", 3)}) {
    EXPECT_EQ(GenerateTlsIdentity(name).status().code(), absl::StatusCode::kInvalidArgument)
        << name;
  }
}

TEST(TlsIdentity, GarbageIsInvalidArgument) {
  auto id = GenerateTlsIdentity("n");
  ASSERT_TRUE(id.ok());
  std::string truncated = id->cert_pem.substr(0, id->cert_pem.size() / 2);
  std::string corrupt = id->cert_pem;
  corrupt[100] = corrupt[100] == 'A' ? 'B' : 'A';  // still base64, no longer valid DER
  std::string body_flip = kKatCert;
  body_flip.replace(body_flip.find("MIIBez"), 6, "MIIBe0");  // length field changed
  for (const std::string& bad :
       {std::string(), std::string("garbage"), std::string("-----BEGIN CERTIFICATE-----\n!!\n"
                                                           "-----END CERTIFICATE-----\n"),
        truncated, body_flip, id->key_pem, id->cert_pem + id->cert_pem}) {
    EXPECT_EQ(CertificateFingerprint(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_EQ(CertificateCommonName(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  // A corrupted signature byte may still parse; whatever the outcome it is never Internal.
  auto c = CertificateFingerprint(corrupt);
  if (!c.ok()) EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  else EXPECT_NE(*c, *CertificateFingerprint(id->cert_pem));
}

}  // namespace
}  // namespace consort::crypto
