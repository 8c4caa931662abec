#include "consort/psi/psi_operator.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "consort/common/bytes.h"
#include "consort/engine/forwarding_session.h"
#include "consort/engine/operator.h"
#include "consort/psi/internal/psi_params.h"
#include "consort/psi/kkrt_psi_operator.h"

namespace consort::psi {
namespace {

constexpr char kMagic[4] = {'C', 'P', 'S', 'A'};
constexpr uint8_t kVersion = 1;
constexpr size_t kHelloBytes = 4 + 1 + 1 + 8 + 8;
// Default of psi.ecdh's memory_budget_mb; "auto" uses the same one.
constexpr uint64_t kDefaultBudgetMb = 1024;
constexpr uint64_t kMinBudgetMb = 64, kMaxBudgetMb = uint64_t{1} << 20;

enum class Protocol : uint8_t { kAuto = 0, kEcdh = 1, kKkrt = 2 };

const char* ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kAuto: return "auto";
    case Protocol::kEcdh: return "ecdh";
    case Protocol::kKkrt: return "kkrt";
  }
  return "?";
}

StatusOr<Protocol> ParseProtocol(const engine::JobSpec& spec) {
  if (!spec.params.contains("protocol")) return Protocol::kAuto;
  const Json& v = spec.params["protocol"];
  if (v == "auto") return Protocol::kAuto;
  if (v == "ecdh") return Protocol::kEcdh;
  if (v == "kkrt") return Protocol::kKkrt;
  return absl::InvalidArgumentError("$.params.protocol must be \"auto\", \"ecdh\" or \"kkrt\"");
}

StatusOr<uint64_t> ParseBudgetMb(const engine::JobSpec& spec) {
  if (!spec.params.contains("memory_budget_mb")) return kDefaultBudgetMb;
  const Json& v = spec.params["memory_budget_mb"];
  if (!v.is_number_integer() || v.get<int64_t>() < static_cast<int64_t>(kMinBudgetMb) ||
      v.get<int64_t>() > static_cast<int64_t>(kMaxBudgetMb)) {
    return absl::InvalidArgumentError("$.params.memory_budget_mb must be an integer from " +
                                      std::to_string(kMinBudgetMb) + " to " +
                                      std::to_string(kMaxBudgetMb));
  }
  return static_cast<uint64_t>(v.get<int64_t>());
}

// The spec the chosen operator sees: its own name and only the parameters it knows.
engine::JobSpec SpecFor(const engine::JobSpec& spec, Protocol p) {
  engine::JobSpec out = spec;
  out.op = p == Protocol::kKkrt ? "psi.kkrt" : "psi.ecdh";
  out.params.erase("protocol");
  if (p == Protocol::kKkrt) out.params.erase("buckets");
  return out;
}

// Adds the protocol to the chosen operator's summary.
class ChosenSession final : public engine::ForwardingSession {
 public:
  ChosenSession(engine::Session& inner, engine::JobSpec spec, Protocol chosen, Protocol requested)
      : ForwardingSession(inner, std::move(spec)), chosen_(chosen), requested_(requested) {}
  Status StoreSummary(const Json& summary) override {
    Json s = summary;
    s["operator"] = "psi";
    s["protocol"] = ProtocolName(chosen_);
    s["protocol_requested"] = ProtocolName(requested_);
    return ForwardingSession::StoreSummary(s);
  }

 private:
  Protocol chosen_, requested_;
};

class AutoPsiOperator final : public engine::Operator {
 public:
  AutoPsiOperator() {
    info_.name = "psi";
    info_.title = "Two-party private set intersection, protocol chosen by size (KKRT16 or ECDH)";
    info_.description =
        "Finds the rows whose key (one or more columns) appears in both parties' datasets, like "
        "psi.ecdh and psi.kkrt, with the same params and outputs plus \"protocol\": \"auto\" "
        "(default), \"ecdh\" or \"kkrt\". With auto the parties exchange their row counts and "
        "memory budgets and run KKRT16 (OT extension, far less CPU) when both sets fit in memory "
        "for it, otherwise the bucketed streaming ECDH-PSI (bounded memory at any size, resumes "
        "after a failure). The summary names the protocol that ran.";
    info_.security_model = "semi-honest; two parties; no trusted third party (either protocol)";
    info_.parameters =
        "KKRT16: 128-bit computational (ristretto255 base OTs, AES-128, BLAKE2b), 40-bit "
        "statistical; ECDH: 128-bit computational (DDH on Curve25519), 40-bit statistical";
    info_.leaks =
        "the row counts and memory budgets of both parties (to choose); then the chosen "
        "protocol's leakage (psi.kkrt or psi.ecdh, see their descriptions): both set sizes; a "
        "receiver of \"intersection\" learns which of its own rows matched, of \"size\" the "
        "count (with KKRT the OPRF receiver learns its matching rows even with \"size\"; with "
        "bucketed ECDH, sizes per bucket when the other party receives \"intersection\"); the coordinator learns nothing about rows";
    info_.outputs = {"intersection", "size"};
    info_.min_parties = 2;
    info_.max_parties = 2;
  }
  const engine::OperatorInfo& info() const override { return info_; }

  Status Validate(const engine::JobSpec& spec, const engine::CatalogView& catalog) const override {
    CONSORT_ASSIGN_OR_RETURN(Protocol p, ParseProtocol(spec));
    CONSORT_RETURN_IF_ERROR(ParseBudgetMb(spec).status());
    // "auto" accepts psi.ecdh's parameters (a superset of psi.kkrt's).
    Protocol as = p == Protocol::kKkrt ? Protocol::kKkrt : Protocol::kEcdh;
    engine::JobSpec inner = SpecFor(spec, as);
    if (p == Protocol::kKkrt) inner.params = spec.params, inner.params.erase("protocol");
    CONSORT_ASSIGN_OR_RETURN(const engine::Operator* op,
                             engine::OperatorRegistry::Global().Find(inner.op));
    return op->Validate(inner, catalog);
  }

  Status Run(engine::Session& session) const override {
    const engine::JobSpec& spec = session.spec();
    CONSORT_ASSIGN_OR_RETURN(Protocol requested, ParseProtocol(spec));
    CONSORT_ASSIGN_OR_RETURN(uint64_t budget_mb, ParseBudgetMb(spec));
    Protocol chosen = requested;
    if (requested == Protocol::kAuto) {
      CONSORT_ASSIGN_OR_RETURN(chosen, Choose(session, budget_mb));
    }
    session.ReportProgress(0, std::string("protocol ") + ProtocolName(chosen));
    engine::JobSpec inner_spec = SpecFor(spec, chosen);
    CONSORT_ASSIGN_OR_RETURN(const engine::Operator* op,
                             engine::OperatorRegistry::Global().Find(inner_spec.op));
    ChosenSession inner(session, std::move(inner_spec), chosen, requested);
    return op->Run(inner);
  }

 private:
  // One message each way: magic, version, requested protocol, row count, budget. Both parties
  // then apply the same rule to the same numbers.
  static StatusOr<Protocol> Choose(engine::Session& session, uint64_t budget_mb) {
    const std::string peer = internal::OtherParty(session.spec(), session.self());
    CONSORT_ASSIGN_OR_RETURN(net::Link * link, session.Peer(peer));
    CONSORT_ASSIGN_OR_RETURN(uint64_t rows, session.InputRows());
    Bytes hello(kMagic, kMagic + 4);
    hello.push_back(kVersion);
    hello.push_back(static_cast<uint8_t>(Protocol::kAuto));
    AppendU64(hello, rows);
    AppendU64(hello, budget_mb);
    CONSORT_RETURN_IF_ERROR(link->Send(hello));
    CONSORT_ASSIGN_OR_RETURN(Bytes reply, link->Recv());
    if (reply.size() != kHelloBytes || std::memcmp(reply.data(), kMagic, 4) != 0) {
      link->Close();
      return absl::InvalidArgumentError("malformed protocol choice message from " + peer);
    }
    if (reply[4] != kVersion || reply[5] != static_cast<uint8_t>(Protocol::kAuto)) {
      link->Close();
      return absl::FailedPreconditionError("peer " + peer +
                                           " runs another version of the psi operator");
    }
    uint64_t peer_rows = ReadU64(reply.data() + 6), peer_budget = ReadU64(reply.data() + 14);
    if (peer_budget < kMinBudgetMb || peer_budget > kMaxBudgetMb) {
      link->Close();
      return absl::InvalidArgumentError("peer " + peer + " sent a memory budget out of range");
    }
    uint64_t max_rows = std::max(rows, peer_rows);
    uint64_t budget = std::min(budget_mb, peer_budget);
    return max_rows <= KkrtMaxRows(budget) ? Protocol::kKkrt : Protocol::kEcdh;
  }

  engine::OperatorInfo info_;
};

}  // namespace

uint64_t KkrtMaxRows(uint64_t budget_mb) { return (budget_mb << 20) / kKkrtBytesPerRow; }

void RegisterAutoPsiOperator() {
  static std::once_flag once;
  std::call_once(once, [] {
    engine::OperatorRegistry::Global().Register(std::make_unique<AutoPsiOperator>());
  });
}

}  // namespace consort::psi
