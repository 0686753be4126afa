# tests/schema/rules.mk — every JSON object the tool writes, validated against the published
# JSON Schema in docs/schema/ (docs/OUTPUT.md) by Debian's python3-jsonschema under
# /usr/bin/python3 (tests/schema/run.sh). Included by the top-level Makefile.
#
#   make check-schema   golden and lab outputs (-f jsonl and -f json), bundle report.json,
#                       and as root a probe and a capture in a private network namespace;
#                       partial results (tables full, a cut capture); the source's
#                       vocabularies equal the schema's enums; and first, broken copies of
#                       real objects must be rejected
.PHONY: check-schema

check-schema: $(B)/portmortem $(PMGEN)
	$(Q)bash tests/schema/run.sh $(B)/portmortem $(PMGEN)

CHECK_TARGETS += check-schema
