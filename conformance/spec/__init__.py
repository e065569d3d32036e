"""The contract as data: the suite's vocabulary, the requirement and problem catalogues, the
situations the suite puts a target in with what each mode expects, and the checks a run has."""
