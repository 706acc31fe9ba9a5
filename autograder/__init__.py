"""Everything that checks work: self-checks, suites, reference, grading."""
