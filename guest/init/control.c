/* SPDX-License-Identifier: Apache-2.0 */
/* The control stream's lines (guest/init/control.h). */
#include "control.h"

#include <stdio.h>
#include <string.h>

static unsigned max_a(enum control_kind k)
{
    switch (k) {
    case CONTROL_EXIT: return 255;
    case CONTROL_SIGNAL:
    case CONTROL_KILL: return 64;
    case CONTROL_ERROR: return 255;
    case CONTROL_WINCH: return 65535;
    }
    return 0;
}

static int min_a(enum control_kind k)
{
    return k == CONTROL_SIGNAL || k == CONTROL_KILL ? 1 : 0;
}

static const char *const names[] = {[CONTROL_EXIT] = "EXIT", [CONTROL_SIGNAL] = "SIGNAL",
                                    [CONTROL_ERROR] = "ERROR", [CONTROL_KILL] = "KILL",
                                    [CONTROL_WINCH] = "WINCH"};

size_t control_format(const struct control_msg *m, char *buf)
{
    if (m->kind < CONTROL_EXIT || m->kind > CONTROL_WINCH || m->a > max_a(m->kind) ||
        (int)m->a < min_a(m->kind) || (m->kind == CONTROL_WINCH && m->b > 65535))
        return 0;
    int n;
    if (m->kind == CONTROL_WINCH)
        n = snprintf(buf, CONTROL_LINE_MAX, "WINCH %u %u\n", m->a, m->b);
    else if (m->kind == CONTROL_ERROR)
        n = snprintf(buf, CONTROL_LINE_MAX, "ERROR %u ", m->a);
    else
        n = snprintf(buf, CONTROL_LINE_MAX, "%s %u\n", names[m->kind], m->a);
    if (m->kind != CONTROL_ERROR)
        return (size_t)n;
    size_t at = (size_t)n;
    for (const char *t = m->text; *t && at < CONTROL_LINE_MAX - 1; t++)
        buf[at++] = *t >= 0x20 && *t < 0x7f ? *t : '?';
    buf[at++] = '\n';
    return at;
}

/* A decimal of 1 to 5 digits, no sign, no leading zero but "0". */
static int number(const char **p, const char *end, unsigned *out)
{
    const char *s = *p;
    unsigned v = 0;
    size_t digits = 0;
    while (s < end && *s >= '0' && *s <= '9' && digits < 6) {
        v = v * 10 + (unsigned)(*s - '0');
        s++;
        digits++;
    }
    if (!digits || digits > 5 || (digits > 1 && **p == '0'))
        return -1;
    *out = v;
    *p = s;
    return 0;
}

int control_parse(const char *line, size_t len, struct control_msg *m)
{
    const char *end = line + len, *p = line;
    memset(m, 0, sizeof(*m));
    if (len >= CONTROL_LINE_MAX)
        return -1;
    for (enum control_kind k = CONTROL_EXIT; k <= CONTROL_WINCH; k++) {
        size_t nl = strlen(names[k]);
        if (len > nl && !memcmp(line, names[k], nl) && line[nl] == ' ') {
            m->kind = k;
            p = line + nl + 1;
            break;
        }
    }
    if (!m->kind || number(&p, end, &m->a) || m->a > max_a(m->kind) || (int)m->a < min_a(m->kind))
        return -1;
    if (m->kind == CONTROL_WINCH) {
        if (p == end || *p++ != ' ' || number(&p, end, &m->b) || m->b > 65535)
            return -1;
    } else if (m->kind == CONTROL_ERROR) {
        if (p == end || *p++ != ' ')
            return -1;
        size_t n = (size_t)(end - p);
        for (size_t i = 0; i < n; i++)
            if (p[i] < 0x20 || p[i] >= 0x7f)
                return -1;
        memcpy(m->text, p, n);
        m->text[n] = '\0';
        return 0;
    }
    return p == end ? 0 : -1;
}

int control_feed(struct control_reader *r, const char **data, size_t *n, struct control_msg *m)
{
    while (*n) {
        char c = **data;
        (*data)++;
        (*n)--;
        if (c == '\n') {
            size_t len = r->len;
            r->len = 0;
            return control_parse(r->buf, len, m) ? -1 : 1;
        }
        if (r->len >= CONTROL_LINE_MAX - 1)
            return -1;
        r->buf[r->len++] = c;
    }
    return 0;
}
