#include "consort/crypto/tls_identity.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "consort/common/bytes.h"

namespace consort::crypto {
namespace {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

constexpr long kValiditySeconds = 10L * 365 * 24 * 3600;
// Tolerates modest clock skew between parties.
constexpr long kBackdateSeconds = 3600;
constexpr size_t kMaxCommonName = 64;  // RFC 5280 ub-common-name

// The OpenSSL error queue is per thread; drain it into the message so the next call starts clean.
Status OpenSslError(const std::string& what) {
  std::string msg = what;
  unsigned long e;
  char buf[256];
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  return absl::InternalError(msg);
}

// A common name becomes a DNS subjectAltName, so it must be a plain host-name-like token. The
// names are built as GENERAL_NAME objects, never by string concatenation into a config string.
bool ValidCommonName(const std::string& cn) {
  if (cn.empty() || cn.size() > kMaxCommonName) return false;
  for (char c : cn) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return cn.front() != '.' && cn.front() != '-';
}

Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(std::string("adding extension ") + OBJ_nid2sn(nid));
  }
  return OkStatus();
}

Status AddGeneralName(GENERAL_NAMES* names, int type, const uint8_t* data, int len) {
  GENERAL_NAME* gn = GENERAL_NAME_new();
  if (gn == nullptr) return OpenSslError("GENERAL_NAME_new");
  // Both IA5String (DNS) and OCTET STRING (IP) are ASN1_STRING underneath.
  ASN1_STRING* s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  if (s == nullptr || ASN1_STRING_set(s, data, len) != 1) {
    ASN1_STRING_free(s);
    GENERAL_NAME_free(gn);
    return OpenSslError("ASN1_STRING_set");
  }
  GENERAL_NAME_set0_value(gn, type, s);
  if (sk_GENERAL_NAME_push(names, gn) <= 0) {
    GENERAL_NAME_free(gn);
    return OpenSslError("sk_GENERAL_NAME_push");
  }
  return OkStatus();
}

Status AddSubjectAltNames(X509* cert, const std::string& cn) {
  NamesPtr names(GENERAL_NAMES_new());
  if (!names) return OpenSslError("GENERAL_NAMES_new");
  auto dns = [&](const std::string& s) {
    return AddGeneralName(names.get(), GEN_DNS, reinterpret_cast<const uint8_t*>(s.data()),
                          static_cast<int>(s.size()));
  };
  CONSORT_RETURN_IF_ERROR(dns(cn));
  if (cn != "localhost") CONSORT_RETURN_IF_ERROR(dns("localhost"));
  const uint8_t loopback[4] = {127, 0, 0, 1};
  CONSORT_RETURN_IF_ERROR(AddGeneralName(names.get(), GEN_IPADD, loopback, 4));
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("adding subjectAltName");
  }
  return OkStatus();
}

// Reads exactly one PEM "CERTIFICATE" block and returns its DER bytes (as transmitted, not
// re-encoded). InvalidArgument on anything else, including a second block.
StatusOr<Bytes> ReadSingleCertificateDer(const std::string& cert_pem) {
  if (cert_pem.empty()) return absl::InvalidArgumentError("certificate PEM is empty");
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate");
  }
  std::string block_name = name;
  Bytes der(data, data + len);
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  if (block_name != "CERTIFICATE") {
    return absl::InvalidArgumentError("PEM block is '" + block_name + "', not CERTIFICATE");
  }
  // Any further PEM block makes the input ambiguous: which certificate is meant?
  name = header = nullptr;
  data = nullptr;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) == 1) {
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    return absl::InvalidArgumentError("expected exactly one certificate, found more");
  }
  ERR_clear_error();
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError("PEM block is not a well-formed X.509 certificate");
  }
  return der;
}

}  // namespace

StatusOr<TlsIdentity> GenerateTlsIdentity(const std::string& common_name) {
  if (!ValidCommonName(common_name)) {
    return absl::InvalidArgumentError(
        "common name must be 1-64 characters of [A-Za-z0-9._-] and not start with '.' or "
        "'-'");
  }
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslError("generating a P-256 key");

  X509Ptr cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return OpenSslError("X509_set_version");

  // A random positive 159-bit serial (RFC 5280 allows at most 20 octets).
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("setting the serial number");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds) == nullptr) {
    return OpenSslError("setting the validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1) {
    return OpenSslError("setting the subject");
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return OpenSslError("X509_set_pubkey");

  CONSORT_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_basic_constraints,
                                       "critical,CA:FALSE"));
  CONSORT_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,digitalSignature"));
  CONSORT_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  CONSORT_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  CONSORT_RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), common_name));

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) return OpenSslError("X509_sign");

  TlsIdentity id;
  {
    // Secure-heap BIO: the PKCS#8 buffer is cleared when the BIO is freed.
    BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
      return OpenSslError("writing the private key");
    }
    char* p = nullptr;
    long n = BIO_get_mem_data(bio.get(), &p);
    id.key_pem.assign(p, static_cast<size_t>(n));
  }
  {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
      return OpenSslError("writing the certificate");
    }
    char* p = nullptr;
    long n = BIO_get_mem_data(bio.get(), &p);
    id.cert_pem.assign(p, static_cast<size_t>(n));
  }
  return id;
}

StatusOr<std::string> CertificateFingerprint(const std::string& cert_pem) {
  CONSORT_ASSIGN_OR_RETURN(Bytes der, ReadSingleCertificateDer(cert_pem));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha256(), nullptr) != 1 ||
      md_len != 32) {
    return OpenSslError("SHA-256 of the certificate");
  }
  return HexEncode(ByteSpan(md, md_len));
}

StatusOr<std::string> CertificateCommonName(const std::string& cert_pem) {
  CONSORT_ASSIGN_OR_RETURN(Bytes der, ReadSingleCertificateDer(cert_pem));
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate is not well-formed");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx < 0) return absl::InvalidArgumentError("certificate subject has no common name");
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, idx) >= 0) {
    return absl::InvalidArgumentError("certificate subject has more than one common name");
  }
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate common name is not a valid string");
  }
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

}  // namespace consort::crypto
