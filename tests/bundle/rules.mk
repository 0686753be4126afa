# tests/bundle/rules.mk — the evidence bundle and `portmortem verify`, end to end
# (tests/bundle/run.sh on the fixtures in pcaps/bundle/). Included by the top-level Makefile.
#   make check-bundle                 release build, with the headless-chromium render checks
#   make VARIANT=asan check-bundle    the same on the ASan+UBSan binary, without the browser
#                                     (the page is the same; the binary is what changes)
.PHONY: check-bundle

check-bundle: $(B)/portmortem
	$(Q)PORTMORTEM=$(B)/portmortem tests/bundle/run.sh $(if $(filter asan,$(VARIANT)),--no-browser)

CHECK_TARGETS += check-bundle
CHECK_SAN_TARGETS += check-bundle
