#pragma once
// Synthetic, seeded data for `consort demo`: three organizations' customer lists with realistic
// overlaps over one shared population of people (E.164 UK mobile numbers, e-mail addresses on
// the RFC 2606 example domains).
//
//   bank  customers.csv  customer_id, phone, email, age_band, balance
//   shop  buyers.csv     buyer_id, phone, email, orders, total_spent
//   media viewers.csv    viewer_id, email, phone, campaign, minutes_watched
//
// About 35% of the shop's buyers and 25% of the media company's viewers are bank customers, and
// about 15% of the viewers are shop buyers who bank elsewhere. A few percent of rows carry a
// different phone number or e-mail than the same person has elsewhere (changed number, second
// address), so the planned overlap is an approximation; the exact truth is what
// PlaintextIntersection computes from the rows. Some e-mails are written in mixed case or
// padded with spaces (bank: a few, media: many) so that only trim + casefold finds every match.
// Within each table, phones and normalized e-mails are distinct.
//
// Deterministic: the output depends only on (rows, seed), on every platform (std::mt19937_64
// with our own range reduction; no implementation-defined distributions). Not thread-safe per
// call; calls share no state.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "consort/common/status.h"

namespace consort::cli {

struct SyntheticConfig {
  int64_t rows = 100000;  // rows per party, >= 10
  uint64_t seed = 42;
};

// One party's table, every field as the text written to the CSV file.
struct SyntheticTable {
  std::string party;        // "bank"
  std::string dataset;      // "customers"
  std::string description;  // for the catalog
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;

  std::string file_name() const { return dataset + ".csv"; }
  // The values of column `name` (CHECK-fails on an unknown column: a programmer error).
  std::vector<std::string> Column(std::string_view name) const;
  // RFC 4180 text with a header row; fields with a comma, quote or surrounding whitespace are
  // quoted so the padding visibly survives.
  std::string ToCsv() const;
};

struct SyntheticData {
  SyntheticTable bank, shop, media;
};

// InvalidArgument if config.rows < 10 or > 10,000,000.
StatusOr<SyntheticData> GenerateSyntheticData(const SyntheticConfig& config);

// Key normalization as psi.ecdh's params apply it: trim strips ASCII whitespace at both ends,
// casefold maps A-Z to a-z.
std::string NormalizeKey(std::string_view value, bool trim, bool casefold);

// The plaintext reference for a PSI: the distinct normalized keys present in both `a` and `b`,
// sorted. (Only the demo can compute this: it alone sees every party's rows.)
std::vector<std::string> PlaintextIntersection(const std::vector<std::string>& a,
                                               const std::vector<std::string>& b, bool trim,
                                               bool casefold);

}  // namespace consort::cli
