#include "consort/net/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <utility>
#include <vector>

#include "consort/common/logging.h"
#include "consort/crypto/tls_identity.h"

namespace consort::net {
namespace {

using grpc::experimental::CertificateVerifier;
using grpc::experimental::ExternalCertificateVerifier;
using grpc::experimental::IdentityKeyCertPair;
using grpc::experimental::StaticDataCertificateProvider;
using grpc::experimental::TlsCustomVerificationCheckRequest;

// Runs in the handshake, after TLS has proven the peer holds the key of `peer_cert()`; decides
// from the certificate's fingerprint alone. Synchronous (returns true with *sync_status set).
class FingerprintVerifier final : public ExternalCertificateVerifier {
 public:
  FingerprintVerifier(FingerprintPolicy policy, std::string role)
      : policy_(std::move(policy)), role_(std::move(role)) {}

  bool Verify(TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    grpc::string_ref pem_ref = request->peer_cert();
    std::string pem(pem_ref.data(), pem_ref.size());
    auto fp = crypto::CertificateFingerprint(pem);
    if (!fp.ok()) {
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  role_ + " certificate is unreadable: " + std::string(fp.status().message()));
    } else if (!policy_(*fp)) {
      CONSORT_LOG(WARNING) << "refused " << role_ << " certificate " << *fp;
      *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                  role_ + " certificate " + *fp + " is not pinned");
    } else {
      *sync_status = grpc::Status::OK;
    }
    return true;
  }

  void Cancel(TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  FingerprintPolicy policy_;
  std::string role_;
};

std::shared_ptr<StaticDataCertificateProvider> IdentityProvider(const TlsConfig& me) {
  IdentityKeyCertPair pair;
  pair.private_key = me.key_pem;
  pair.certificate_chain = me.cert_pem;
  return std::make_shared<StaticDataCertificateProvider>(std::vector<IdentityKeyCertPair>{pair});
}

template <typename T, void (*Free)(T*)>
struct OsslFree {
  void operator()(T* p) const { Free(p); }
};

}  // namespace

bool IsFingerprint(const std::string& fp) {
  if (fp.size() != 64) return false;
  for (char c : fp) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status ValidateTlsConfig(const TlsConfig& tls) {
  auto fp = crypto::CertificateFingerprint(tls.cert_pem);
  if (!fp.ok()) {
    return absl::InvalidArgumentError("TLS certificate: " + std::string(fp.status().message()));
  }
  if (tls.key_pem.empty()) return absl::InvalidArgumentError("TLS private key is empty");
  // gRPC only discovers a bad key at the first handshake; check the pair now. (A small use of
  // OpenSSL outside crypto/: it is part of configuring the TLS library, not a primitive.)
  std::unique_ptr<BIO, OsslFree<BIO, BIO_free_all>> kb(
      BIO_new_mem_buf(tls.key_pem.data(), static_cast<int>(tls.key_pem.size())));
  std::unique_ptr<BIO, OsslFree<BIO, BIO_free_all>> cb(
      BIO_new_mem_buf(tls.cert_pem.data(), static_cast<int>(tls.cert_pem.size())));
  std::unique_ptr<EVP_PKEY, OsslFree<EVP_PKEY, EVP_PKEY_free>> key(
      PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  std::unique_ptr<X509, OsslFree<X509, X509_free>> cert(
      PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  bool match = key && cert && X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!key) return absl::InvalidArgumentError("TLS private key is not a readable PEM key");
  if (!match) return absl::InvalidArgumentError("TLS private key does not match the certificate");
  return OkStatus();
}

StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsConfig& me, FingerprintPolicy accept) {
  CONSORT_RETURN_IF_ERROR(ValidateTlsConfig(me));
  if (!accept) return absl::InvalidArgumentError("no client certificate policy");
  grpc::experimental::TlsServerCredentialsOptions options(IdentityProvider(me));
  options.watch_identity_key_cert_pairs();
  // The TLS layer must ask for (and require) a client certificate but not chain-verify it;
  // the pin check happens in our verifier, still inside the handshake.
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  options.set_certificate_verifier(
      ExternalCertificateVerifier::Create<FingerprintVerifier>(std::move(accept), "client"));
  auto creds = grpc::experimental::TlsServerCredentials(options);
  if (!creds) return absl::InternalError("gRPC refused the TLS server options");
  return creds;
}

void ApplyServerDefaults(grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Tolerate the clients' 10 s pings (the default minimum is 5 minutes).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kKeepaliveTimeMs / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

grpc::ChannelArguments DefaultChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC uses it as the minimum *connect timeout*, so a
  // small value fails any handshake slower than that (seen under load: "connection attempt
  // timed out before receiving SETTINGS frame"). The default (20 s) stays.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5'000);
  // Never reuse a connection made by another channel (whose pin may differ).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return args;
}

StatusOr<std::shared_ptr<grpc::Channel>> CreatePinnedChannel(
    const std::string& address, const TlsConfig& me, const std::string& expected_server_fingerprint) {
  return CreatePinnedChannel(address, me, expected_server_fingerprint, DefaultChannelArguments());
}

StatusOr<std::shared_ptr<grpc::Channel>> CreatePinnedChannel(
    const std::string& address, const TlsConfig& me, const std::string& expected_server_fingerprint,
    const grpc::ChannelArguments& args) {
  if (!IsFingerprint(expected_server_fingerprint)) {
    return absl::InvalidArgumentError("expected server fingerprint must be 64 lowercase hex");
  }
  if (address.empty()) return absl::InvalidArgumentError("empty server address");
  CONSORT_RETURN_IF_ERROR(ValidateTlsConfig(me));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(IdentityProvider(me));
  options.watch_identity_key_cert_pairs();
  // No CA and no host-name check: the fingerprint pin below is the whole decision.
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  std::string expected = expected_server_fingerprint;
  options.set_certificate_verifier(ExternalCertificateVerifier::Create<FingerprintVerifier>(
      [expected](const std::string& fp) { return fp == expected; }, "server"));
  auto creds = grpc::experimental::TlsCredentials(options);
  if (!creds) return absl::InternalError("gRPC refused the TLS channel options");
  return grpc::CreateCustomChannel(address, creds, args);
}

StatusOr<std::string> PeerFingerprint(const grpc::ServerContext& context) {
  auto auth = context.auth_context();
  if (!auth) return absl::UnauthenticatedError("call has no auth context");
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues("x509_pem_cert");
  if (pems.size() != 1) return absl::UnauthenticatedError("call has no client certificate");
  auto fp = crypto::CertificateFingerprint(std::string(pems[0].data(), pems[0].size()));
  if (!fp.ok()) {
    return absl::UnauthenticatedError("client certificate is unreadable: " +
                                      std::string(fp.status().message()));
  }
  return fp;
}

Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return OkStatus();
  return Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

grpc::Status ToGrpcStatus(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace consort::net
