#include "consort/data/table_reader.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace consort::data {
namespace {

class SliceReader final : public TableReader {
 public:
  SliceReader(std::shared_ptr<const Table> table, size_t batch_rows)
      : table_(std::move(table)), batch_rows_(std::max<size_t>(batch_rows, 1)) {}

  StatusOr<bool> Next(Table* batch) override {
    size_t n = table_->num_rows();
    if (next_ >= n) {
      *batch = Table();
      return false;
    }
    size_t end = std::min(n, next_ + batch_rows_);
    std::vector<uint32_t> rows(end - next_);
    std::iota(rows.begin(), rows.end(), static_cast<uint32_t>(next_));
    CONSORT_ASSIGN_OR_RETURN(*batch, table_->SelectRows(rows));
    next_ = end;
    return true;
  }

 private:
  std::shared_ptr<const Table> table_;
  size_t batch_rows_;
  size_t next_ = 0;
};

}  // namespace

std::unique_ptr<TableReader> SliceTable(std::shared_ptr<const Table> table, size_t batch_rows) {
  return std::make_unique<SliceReader>(std::move(table), batch_rows);
}

}  // namespace consort::data
