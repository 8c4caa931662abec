#pragma once
// Operators "fl.secureboost.train" and "fl.secureboost.predict": SecureBoost (secureboost.h)
// as Consort jobs, with PSI alignment (psi/align.h) or pre-aligned rows.
//
// Spec (both operators):
//   parties: two or more data parties, each {dataset, columns: [feature columns]} (int64 or
//            float64; nulls are missing values). The guest's columns may include the label
//            column (it is never a feature); id columns listed there are not features either.
//   params:  guest (required): the party holding the labels;
//            model_name (required): name under which every party stores / loads its part;
//            id_columns: ["<key column>", ...] (same names everywhere) or {"<party>": [...]}
//                        for every data party: align rows by PSI on these keys; absent: the
//                        rows are already aligned (same order, same count: the count is
//                        checked, FailedPrecondition otherwise);
//            train only: label_column (required, guest's 0/1 column), num_trees (30),
//                        max_depth (3), learning_rate (0.3), min_child_weight (1), l2 (1),
//                        min_split_gain (0), subsample (1), bins (32), seed (0 = random).
//   outputs: train: the guest may receive "metrics" (training AUC, KS, log-loss, rows);
//            hosts receive nothing (each stores its model part: Session::StoreModel).
//            predict: exactly one party receives "scores": a table (its id columns when
//            aligned by PSI, else "row") plus "score" (probability). When the receiver is a
//            host, the guest sends it the scores and learns nothing new.
// Model metadata (catalog): kind, role, guest, hosts, feature names, hyper-parameters,
// metrics (guest), never thresholds or leaf values (those are in each party's private blob).
//
// Security model, parameters and Leaks: secureboost.h, plus the alignment's (psi/align.h)
// when id_columns are given. Predict with a host receiver: that host also learns the scores.

namespace consort::boost {

// Registers both operators with engine::OperatorRegistry::Global(). Idempotent.
void RegisterBoostOperators();

}  // namespace consort::boost
