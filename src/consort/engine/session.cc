#include "consort/engine/session.h"

#include "consort/data/table.h"

namespace consort::engine {

StatusOr<std::unique_ptr<data::TableReader>> Session::OpenInput(size_t batch_rows) {
  CONSORT_ASSIGN_OR_RETURN(std::shared_ptr<const data::Table> table, LoadInput());
  return data::SliceTable(std::move(table), batch_rows);
}

}  // namespace consort::engine
