# tests/package/rules.mk — the install and the Debian package, end to end (tests/package/run.sh):
# `make install`/`uninstall` into a scratch DESTDIR, then `make deb` (dpkg-buildpackage in a
# temp copy), lintian, the .deb unpacked into a scratch root and its binary, man page and
# completion used from there. Included by the top-level Makefile.
#   make check-package       (no root needed: dpkg-buildpackage -b, dpkg-deb -x)
.PHONY: check-package

check-package: portmortem
	$(Q)MAKE="$(MAKE)" tests/package/run.sh

CHECK_TARGETS += check-package
