#include "consort/data/table_reader.h"

#include <gtest/gtest.h>

#include "consort/data/csv.h"

namespace consort::data {
namespace {

TEST(SliceTable, ReturnsEveryRowOnceInOrder) {
  auto t = ParseCsv("id,v\n1,a\n2,b\n3,c\n4,d\n5,e\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  auto shared = std::make_shared<const Table>(std::move(*t));
  auto reader = SliceTable(shared, 2);
  Table batch;
  std::vector<size_t> sizes;
  std::string ids;
  while (true) {
    auto more = reader->Next(&batch);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    sizes.push_back(batch.num_rows());
    EXPECT_EQ(batch.num_columns(), 2u);
    auto col = batch.ColumnByName("id");
    ASSERT_TRUE(col.ok());
    for (size_t r = 0; r < batch.num_rows(); ++r) ids += (*col)->ToText(r);
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
  EXPECT_EQ(ids, "12345");
  EXPECT_EQ(batch.num_rows(), 0u);
}

TEST(SliceTable, EmptyTableEndsAtOnce) {
  auto t = ParseCsv("id\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  auto reader = SliceTable(std::make_shared<const Table>(std::move(*t)), 10);
  Table batch;
  auto more = reader->Next(&batch);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

}  // namespace
}  // namespace consort::data
