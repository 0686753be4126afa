/* test_mtalog.c — placeholder until the MTA log parser lands. */
#include <criterion/criterion.h>
#include "mtalog.h"
Test(mtalog, placeholder_ignores_empty_line)
{
    struct pm_logentry e;
    cr_assert_eq(pm_log_parse_line("", 0, NULL, &e), 0);
}
