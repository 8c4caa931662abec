#include "consort/engine/session.h"

#include "consort/data/table.h"

namespace consort::engine {

StatusOr<std::unique_ptr<data::TableReader>> Session::OpenInput(size_t batch_rows) {
  CONSORT_ASSIGN_OR_RETURN(std::shared_ptr<const data::Table> table, LoadInput());
  return data::SliceTable(std::move(table), batch_rows);
}

StatusOr<uint64_t> Session::InputRows() {
  CONSORT_ASSIGN_OR_RETURN(std::unique_ptr<data::TableReader> reader, OpenInput(1 << 16));
  uint64_t rows = 0;
  data::Table batch;
  while (true) {
    CONSORT_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
    if (!more) return rows;
    rows += batch.num_rows();
  }
}

}  // namespace consort::engine
