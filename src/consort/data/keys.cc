#include "consort/data/keys.h"

#include <algorithm>
#include <unordered_map>

#include "consort/common/bytes.h"

namespace consort::data {
namespace {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

void AppendKeyComponent(std::string& out, uint8_t tag, std::string_view text) {
  CONSORT_CHECK(text.size() <= 0xFFFFFFFFu);
  const uint32_t n = static_cast<uint32_t>(text.size());
  out.push_back(static_cast<char>(tag));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  out.append(text);
}

StatusOr<KeyedRows> ExtractKeys(const Table& table, std::span<const std::string> key_columns,
                                const KeyOptions& options) {
  const std::string where = table.source().empty() ? "<table>" : table.source();
  if (key_columns.empty()) {
    return absl::InvalidArgumentError(where + ": no key columns given");
  }
  std::vector<size_t> cols;
  std::string column_list;
  for (const std::string& name : key_columns) {
    CONSORT_ASSIGN_OR_RETURN(size_t c, table.ColumnIndex(name));
    if (std::find(cols.begin(), cols.end(), c) != cols.end()) {
      return absl::InvalidArgumentError(where + ": key column '" + name + "' given twice");
    }
    cols.push_back(c);
    column_list += (column_list.empty() ? "" : ", ") + name;
  }
  const size_t n = table.num_rows();
  if (n > 0xFFFFFFFFu) {
    return absl::InvalidArgumentError(where +
                                      ": too many rows for key extraction (limit 2^32 - 1)");
  }

  KeyedRows out;
  out.keys.reserve(n);  // never reallocates: the index below holds views into these strings
  std::unordered_map<std::string_view, uint32_t> index;
  index.reserve(n);
  std::vector<uint32_t> key_of_row(n);
  std::string key, text, folded;

  for (size_t r = 0; r < n; ++r) {
    key.clear();
    for (size_t k = 0; k < cols.size(); ++k) {
      const Column& col = table.column(cols[k]);
      std::string_view value;
      uint8_t tag = kKeyTagString;
      if (!col.IsNull(r)) {
        switch (col.type()) {
          case ColumnType::kInt64:
            tag = kKeyTagInt64;
            text = col.ToText(r);
            value = text;
            break;
          case ColumnType::kFloat64:
            tag = kKeyTagFloat64;
            // -0.0 == 0.0, so both must serialize alike.
            text = col.Float64(r) == 0.0 ? "0.0" : col.ToText(r);
            value = text;
            break;
          case ColumnType::kString:
            value = col.String(r);
            if (options.trim_whitespace) value = TrimAscii(value);
            if (options.fold_ascii_case) {
              folded.assign(value);
              for (char& c : folded) {
                if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
              }
              value = folded;
            }
            break;
        }
      }
      if (value.size() > 0xFFFFFFFFu) {
        return absl::InvalidArgumentError(table.RowLocation(r) + ": column '" +
                                          table.schema().column(cols[k]).name +
                                          "': key value longer than 4 GiB");
      }
      if (value.empty()) {
        return absl::InvalidArgumentError(table.RowLocation(r) + ": column '" +
                                          table.schema().column(cols[k]).name +
                                          "': empty key value");
      }
      AppendKeyComponent(key, tag, value);
    }
    auto it = index.find(key);
    if (it == index.end()) {
      const uint32_t id = static_cast<uint32_t>(out.keys.size());
      out.keys.push_back(key);
      index.emplace(out.keys.back(), id);
      key_of_row[r] = id;
    } else if (options.duplicates == DuplicateKeys::kError) {
      // Name the two rows only: the key itself is private data.
      size_t first = 0;
      while (key_of_row[first] != it->second) ++first;
      std::string unit = table.has_row_lines() ? "lines " : "rows ";
      auto num = [&](size_t row) {
        return std::to_string(table.has_row_lines() ? table.row_line(row) : row + 1);
      };
      return absl::InvalidArgumentError(where + ": duplicate key in column(s) " + column_list +
                                        " at " + unit + num(first) + " and " + num(r));
    } else {
      key_of_row[r] = it->second;
    }
  }

  // Group rows by key (counting sort keeps rows ascending within each key).
  out.offsets.assign(out.keys.size() + 1, 0);
  for (size_t r = 0; r < n; ++r) ++out.offsets[key_of_row[r] + 1];
  for (size_t k = 0; k < out.keys.size(); ++k) out.offsets[k + 1] += out.offsets[k];
  out.rows.resize(n);
  std::vector<uint32_t> next(out.offsets.begin(), out.offsets.end() - 1);
  for (size_t r = 0; r < n; ++r) out.rows[next[key_of_row[r]]++] = static_cast<uint32_t>(r);
  out.keys.shrink_to_fit();
  return out;
}

}  // namespace consort::data
