#pragma once
// Operators for vertical logistic regression (protocol: hetero_lr.h; docs/operators/
// fl-hetero-lr.md).
//
// fl.hetero_lr.train — the guest (with the label column) and one host, plus for variant "mpc"
// (the default) one dataless party {"role": "dealer"}; or the guest and two hosts (variant
// "mpc" on three-party replicated sharing, no dealer):
//   parties.<p>.columns: the id (key) columns, the feature columns (and at the guest the label).
//   params: guest (party name), label_column, id_columns (list, same names at every party, or
//   {"party": [..]}), model_name, variant ("mpc" | "paillier"), aligned (bool: rows already
//   aligned, skip PSI), paillier_bits, and the LrParams fields (epochs, batch_size,
//   learning_rate, schedule, decay, l1, l2, tolerance, validation_fraction,
//   early_stopping_rounds, fit_intercept, standardize, seed).
//   Rows are aligned by PSI on the id columns (psi/align.h); every data party stores its own
//   part of the model with Session::StoreModel(model_name) (metadata: kind, role, columns,
//   params, variant, parties, training job id; never weights); receivers of "summary" (data
//   parties) get training/validation AUC, KS, log-loss, accuracy/precision/recall at 0.5 and
//   the epochs run. Every data party checkpoints each epoch in Session::ScratchDir(), so a
//   retried job resumes from the last epoch all parties completed.
// fl.hetero_lr.predict — the same data parties, no dealer: params model_name, id_columns,
//   aligned, result_name (default "<model_name>.scores"); each party loads its part; rows are
//   aligned by PSI; exactly one data party receives "scores" and stores the table
//   (its id columns + "score") as result_name.
// Errors: InvalidArgument naming the field for bad params (Validate and Run), NotFound for an
// unknown model, FailedPrecondition when the parties' model parts do not belong together.

namespace consort::fl {

// Registers both operators with engine::OperatorRegistry::Global() (idempotent).
void RegisterFlOperators();

}  // namespace consort::fl
