/* test_pkt.c — the bounds-checked cursor: truncated vs malformed, sticky errors, windows. */
#include <criterion/criterion.h>

#include "pkt.h"

Test(pkt, reads_in_order_big_and_little_endian)
{
    const uint8_t b[] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01};
    pm_cur c = pm_cur_init(b, sizeof(b), sizeof(b));
    cr_assert_eq(pm_be16(&c), 0x1234);
    cr_assert_eq(pm_le16(&c), 0x7856);
    cr_assert_eq(pm_be32(&c), 0x9abcdef0u);
    cr_assert_eq(pm_u8(&c), 0x01);
    cr_assert_eq(c.status, PM_CUR_OK);
    cr_assert_eq(pm_cur_left_wire(&c), 0);
}

Test(pkt, past_capture_within_wire_is_truncated_and_sticky)
{
    const uint8_t b[] = {1, 2, 3};
    pm_cur c = pm_cur_init(b, 3, 40); /* snaplen kept 3 of 40 bytes */
    cr_assert_eq(pm_be16(&c), 0x0102);
    cr_assert_eq(pm_be16(&c), 0, "a read that does not fit returns 0");
    cr_assert_eq(c.status, PM_CUR_TRUNC);
    cr_assert_eq(pm_u8(&c), 0, "errors are sticky: even a fitting read fails now");
    cr_assert_eq(c.status, PM_CUR_TRUNC);
}

Test(pkt, past_wire_is_malformed)
{
    const uint8_t b[] = {1, 2, 3};
    pm_cur c = pm_cur_init(b, 3, 3);
    pm_skip(&c, 2);
    cr_assert_eq(pm_be16(&c), 0);
    cr_assert_eq(c.status, PM_CUR_BAD);
}

Test(pkt, lying_wire_length_cannot_widen_reads)
{
    const uint8_t b[] = {1, 2, 3, 4};
    pm_cur c = pm_cur_init(b, 4, 2); /* wire < cap: treated as wire = cap */
    cr_assert_eq(c.wire, 4);
    cr_assert_eq(pm_be32(&c), 0x01020304u);
}

Test(pkt, sub_window_is_bounded_and_advances_parent)
{
    const uint8_t b[] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    pm_cur c = pm_cur_init(b, 5, 5);
    pm_skip(&c, 1);
    pm_cur s = pm_sub(&c, 2);
    cr_assert_eq(s.status, PM_CUR_OK);
    cr_assert_eq(pm_be16(&s), 0xbbcc);
    cr_assert_eq(pm_u8(&s), 0, "child cannot read past its window");
    cr_assert_eq(s.status, PM_CUR_BAD);
    cr_assert_eq(pm_u8(&c), 0xdd, "parent continues after the child's bytes");
}

Test(pkt, sub_window_partly_captured)
{
    const uint8_t b[] = {1, 2, 3, 4};
    pm_cur c = pm_cur_init(b, 4, 100);
    pm_skip(&c, 2);
    pm_cur s = pm_sub(&c, 10);
    cr_assert_eq(s.cap, 2);
    cr_assert_eq(s.wire, 10);
    cr_assert_eq(pm_be16(&s), 0x0304);
    pm_u8(&s);
    cr_assert_eq(s.status, PM_CUR_TRUNC);
}

Test(pkt, sub_window_larger_than_wire_marks_parent_bad)
{
    const uint8_t b[] = {1, 2, 3, 4};
    pm_cur c = pm_cur_init(b, 4, 4);
    pm_cur s = pm_sub(&c, 5);
    cr_assert_eq(s.status, PM_CUR_BAD);
    cr_assert_eq(c.status, PM_CUR_BAD);
    cr_assert_eq(s.cap, 0);
}

Test(pkt, clamp_narrows_window)
{
    const uint8_t b[] = {1, 2, 3, 4, 0, 0}; /* 4 bytes of packet + 2 bytes of padding */
    pm_cur c = pm_cur_init(b, 6, 6);
    pm_cur_clamp(&c, 4);
    pm_skip(&c, 4);
    cr_assert_eq(pm_cur_left_wire(&c), 0);
    pm_u8(&c);
    cr_assert_eq(c.status, PM_CUR_BAD);
    pm_cur d = pm_cur_init(b, 6, 6);
    pm_cur_clamp(&d, 7);
    cr_assert_eq(d.status, PM_CUR_BAD, "clamping beyond the window is malformed");
}

Test(pkt, skip_needs_wire_not_capture)
{
    const uint8_t b[] = {1};
    pm_cur c = pm_cur_init(b, 1, 10);
    pm_skip(&c, 8);
    cr_assert_eq(c.status, PM_CUR_OK, "skipping uncaptured option bytes is fine");
    pm_u8(&c);
    cr_assert_eq(c.status, PM_CUR_TRUNC);
}

Test(pkt, peek_does_not_move_and_checks_bounds)
{
    const uint8_t b[] = {0x45, 0x00};
    pm_cur c = pm_cur_init(b, 2, 2);
    int ok;
    cr_assert_eq(pm_peek_u8(&c, 0, &ok), 0x45);
    cr_assert(ok);
    pm_peek_be16(&c, 1, &ok);
    cr_assert_not(ok);
    cr_assert_eq(c.off, 0);
}

Test(pkt, null_buffer_is_empty)
{
    pm_cur c = pm_cur_init(NULL, 10, 10);
    cr_assert_eq(c.cap, 0);
    pm_u8(&c);
    cr_assert_eq(c.status, PM_CUR_TRUNC);
}
