/*
 * bundle_helper.h — the privileged store for evidence bundles (capture/bundle_helper.c): a
 * helper process that keeps root's hold on the bundle's temporary directory after the main
 * process drops its privileges. Handed to the bundle writer as a pm_bundle_store_start.
 */
#ifndef PM_BUNDLE_HELPER_H
#define PM_BUNDLE_HELPER_H

#include "bundle.h"

pm_bundle_store_start pm_bundle_helper_start;

#endif
