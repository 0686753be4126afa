# tests/layers/rules.mk — the layering rules that keep privileged code in capture/ (issue
# 17.4): analyze/ holds no fork, setuid/setgid, capset, prctl or descriptor passing
# (tests/layers/run.sh, sources and objects); no source file over 1,200 lines (but those in
# tests/layers/long-files.allow); capture/ calls nothing of main.c. Included by the
# top-level Makefile.
#   make check-layers
.PHONY: check-layers

check-layers: $(LIB) $(MAIN_OBJ)
	$(Q)bash -o pipefail -c 'bash tests/layers/run.sh $(B) | { grep -v "^PASS" || true; }'

CHECK_TARGETS += check-layers
