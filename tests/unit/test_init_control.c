/* SPDX-License-Identifier: Apache-2.0 */
/* guest/init/control.c: the control stream's lines between plugvm and
 * plugvm-init, formatted and parsed back; each malformed line (unknown
 * word, numbers out of range or with a sign or leading zero, a control
 * byte in ERROR's text, too long) refused; a stream split anywhere
 * reassembles into the same messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "control.h"

static void round_trip(void **state)
{
    (void)state;
    const struct control_msg in[] = {
        {.kind = CONTROL_EXIT, .a = 0},   {.kind = CONTROL_EXIT, .a = 255},  {.kind = CONTROL_SIGNAL, .a = 9},
        {.kind = CONTROL_KILL, .a = 15},  {.kind = CONTROL_WINCH, .a = 50, .b = 132},
        {.kind = CONTROL_ERROR, .a = 127, .text = "exec: \"nope\": executable file not found in $PATH"},
    };
    char line[CONTROL_LINE_MAX];
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        size_t n = control_format(&in[i], line);
        assert_true(n > 1 && line[n - 1] == '\n');
        struct control_msg m;
        assert_int_equal(control_parse(line, n - 1, &m), 0);
        assert_int_equal(m.kind, in[i].kind);
        assert_int_equal(m.a, in[i].a);
        assert_int_equal(m.b, in[i].b);
        assert_string_equal(m.text, in[i].text);
    }
    /* Out of range is not formatted; ERROR's text is made printable and cut. */
    struct control_msg bad = {.kind = CONTROL_EXIT, .a = 256};
    assert_int_equal(control_format(&bad, line), 0);
    bad = (struct control_msg){.kind = CONTROL_KILL, .a = 0};
    assert_int_equal(control_format(&bad, line), 0);
    struct control_msg e = {.kind = CONTROL_ERROR, .a = 125};
    memset(e.text, 'x', sizeof(e.text) - 1);
    e.text[3] = '\n';
    size_t n = control_format(&e, line);
    assert_int_equal(n, CONTROL_LINE_MAX);
    struct control_msg m;
    assert_int_equal(control_parse(line, n - 1, &m), 0);
    assert_int_equal(m.text[3], '?');
}

static void refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "EXIT", "EXIT ", "EXIT 256", "EXIT -1", "EXIT +1", "EXIT 01", "EXIT 1 ", "EXIT 1x", "exit 1",
        "SIGNAL 0", "SIGNAL 65", "KILL 0", "WINCH 1", "WINCH 1 65536", "WINCH 1  2", "ERROR 127",
        "ERROR 127 a\tb", "ERROR 1234567 x", "NOPE 1", "EXIT 99999999999",
    };
    struct control_msg m;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (control_parse(bad[i], strlen(bad[i]), &m) == 0)
            fail_msg("\"%s\" was taken", bad[i]);
    char lng[CONTROL_LINE_MAX + 8];
    memset(lng, 'a', sizeof(lng));
    memcpy(lng, "ERROR 125 ", 10);
    assert_int_equal(control_parse(lng, CONTROL_LINE_MAX, &m), -1);
    /* ERROR with an empty text is a message. */
    assert_int_equal(control_parse("ERROR 125 ", 10, &m), 0);
}

static void stream(void **state)
{
    (void)state;
    const char text[] = "EXIT 3\nKILL 15\nWINCH 24 80\n";
    for (size_t split = 0; split <= sizeof(text) - 1; split++) {
        struct control_reader r = {0};
        struct control_msg m;
        unsigned got = 0;
        const char *d = text;
        size_t n = split;
        for (int part = 0; part < 2; part++) {
            int rc;
            while ((rc = control_feed(&r, &d, &n, &m)) == 1)
                got = got * 100 + m.a;
            assert_int_equal(rc, 0);
            n = sizeof(text) - 1 - split;
        }
        assert_int_equal(got, 31524);
    }
    /* A line that never ends is refused at the limit, not buffered on. */
    struct control_reader r = {0};
    char junk[CONTROL_LINE_MAX + 1];
    memset(junk, 'A', sizeof(junk));
    const char *d = junk;
    size_t n = sizeof(junk);
    struct control_msg m;
    assert_int_equal(control_feed(&r, &d, &n, &m), -1);
    const char nonsense[] = "HELLO\n";
    struct control_reader r2 = {0};
    d = nonsense;
    n = sizeof(nonsense) - 1;
    assert_int_equal(control_feed(&r2, &d, &n, &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(refusals),
        cmocka_unit_test(stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
