#include "consort/data/sqlite_reader.h"

#include <optional>
#include <utility>

#include "consort/common/sqlite.h"
#include "consort/data/describe.h"
#include "consort/data/internal/sqlite_table.h"

namespace consort::data {
namespace {

class SqliteStreamReader final : public TableReader {
 public:
  SqliteStreamReader(SqlDb db, size_t batch_rows) : db_(std::move(db)), batch_rows_(batch_rows) {}

  // Runs inside the reader so that the statement points at the connection's final address.
  Status Open(std::string_view table, const SqliteStreamOptions& options,
              const std::string& label) {
    CONSORT_RETURN_IF_ERROR(db_.Exec("BEGIN"));
    // Reading the catalog starts the read transaction: from here on the snapshot is fixed
    // (and, with a rollback journal, the shared lock keeps the file as it is).
    CONSORT_ASSIGN_OR_RETURN(sel_,
                             internal::ResolveSqliteSelection(db_, label, table, options.columns));
    expected_ = options.expected_fingerprint;
    if (!expected_.empty() && !IsContentFingerprint(expected_)) {
      CONSORT_ASSIGN_OR_RETURN(std::string fp, FileFingerprint(db_.path()));
      if (fp != options.expected_fingerprint) {
        return absl::FailedPreconditionError(label +
                                             ": the database changed since it was registered");
      }
    }
    std::vector<std::optional<ColumnType>> types(sel_.names.size());
    std::vector<size_t> missing;
    for (size_t k = 0; k < sel_.names.size(); ++k) {
      auto it = options.column_types.find(sel_.names[k]);
      if (it != options.column_types.end()) {
        types[k] = it->second;
      } else {
        missing.push_back(k);
      }
    }
    CONSORT_ASSIGN_OR_RETURN(std::vector<ColumnType> inferred,
                             internal::InferSqliteTypes(db_, sel_, missing));
    for (size_t m = 0; m < missing.size(); ++m) types[missing[m]] = inferred[m];
    std::vector<ColumnSpec> specs;
    for (size_t k = 0; k < sel_.names.size(); ++k) specs.push_back({sel_.names[k], *types[k]});
    CONSORT_ASSIGN_OR_RETURN(schema_, Schema::Make(std::move(specs)));
    if (IsContentFingerprint(expected_)) hasher_.emplace(schema_);
    CONSORT_ASSIGN_OR_RETURN(SqlStatement stmt, db_.Prepare(sel_.select_sql));
    stmt_.emplace(std::move(stmt));
    return OkStatus();
  }

  StatusOr<bool> Next(Table* batch) override {
    *batch = Table();
    if (!status_.ok()) return status_;
    if (done_) return false;
    StatusOr<bool> r = NextInternal(batch);
    if (!r.ok()) {
      status_ = r.status();
      // Registration read every value with these types, so with a content fingerprint a value
      // that does not fit means the table changed: say so (the detail names no value).
      if (hasher_ && status_.code() == absl::StatusCode::kInvalidArgument) {
        status_ = absl::FailedPreconditionError(sel_.source +
                                                ": the table changed since it was registered (" +
                                                std::string(status_.message()) + ")");
      }
      Finish();
      *batch = Table();
      return status_;
    }
    return r;
  }

 private:
  StatusOr<bool> NextInternal(Table* batch) {
    std::vector<Column> out;
    out.reserve(schema_.size());
    for (size_t k = 0; k < schema_.size(); ++k) out.emplace_back(schema_.column(k).type);
    size_t n = 0;
    bool ended = false;
    while (n < batch_rows_) {
      CONSORT_ASSIGN_OR_RETURN(bool more, stmt_->Step());
      if (!more) {
        ended = true;
        break;
      }
      ++row_;
      ++n;
      for (size_t k = 0; k < out.size(); ++k) {
        CONSORT_RETURN_IF_ERROR(internal::AppendSqliteValue(
            out[k], sel_.names[k], stmt_->Column(static_cast<int>(k)), sel_.source, row_));
      }
    }
    Table t;
    if (n > 0) {
      CONSORT_ASSIGN_OR_RETURN(t, Table::Make(schema_, std::move(out), sel_.source));
      if (hasher_) hasher_->Update(t);
    }
    if (ended) {
      Finish();
      // The last rows are only handed out once the whole table matched (as the CSV reader).
      if (hasher_ && hasher_->Finish() != expected_) {
        return absl::FailedPreconditionError(sel_.source +
                                             ": the table changed since it was registered");
      }
    }
    if (n == 0) return false;
    *batch = std::move(t);
    return true;
  }

  // Ends the statement and the read transaction (releasing the snapshot and any lock).
  void Finish() {
    done_ = true;
    stmt_.reset();
    (void)db_.Exec("COMMIT");
  }

  SqlDb db_;  // declared before stmt_: the statement is finalized first
  size_t batch_rows_;
  internal::SqliteSelection sel_;
  Schema schema_;
  std::optional<SqlStatement> stmt_;
  std::string expected_;
  std::optional<TableContentHasher> hasher_;  // set for a content fingerprint
  uint64_t row_ = 0;
  bool done_ = false;
  Status status_;
};

}  // namespace

StatusOr<std::unique_ptr<TableReader>> OpenSqliteReader(const std::string& db_path,
                                                        std::string_view table,
                                                        const SqliteStreamOptions& options) {
  if (options.batch_rows < 1) {
    return absl::InvalidArgumentError("SQLite reader: batch_rows must be at least 1");
  }
  const std::string label = options.source_name.empty() ? db_path : options.source_name;
  if (table.empty() || table.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(label + ": invalid table name");
  }
  CONSORT_ASSIGN_OR_RETURN(SqlDb db, SqlDb::Open(db_path, /*read_only=*/true));
  auto reader = std::make_unique<SqliteStreamReader>(std::move(db), options.batch_rows);
  CONSORT_RETURN_IF_ERROR(reader->Open(table, options, label));
  return std::unique_ptr<TableReader>(std::move(reader));
}

}  // namespace consort::data
