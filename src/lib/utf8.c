#include "utf8.h"

size_t sf_utf8_next(const uint8_t *p, size_t len, uint32_t *cp)
{
    uint8_t c = p[0];
    size_t n;
    uint32_t v;
    uint32_t min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0) {
        n = 1, v = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2, v = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3, v = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len - 1) {
        return 0;
    }
    for (size_t k = 1; k <= n; k++) {
        if ((p[k] & 0xC0) != 0x80) {
            return 0;
        }
        v = v << 6 | (p[k] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return 0;
    }
    *cp = v;
    return n + 1;
}

bool sf_utf8_is_valid(const uint8_t *p, size_t len, bool allow_nul)
{
    size_t i = 0;

    while (i < len) {
        uint32_t cp;
        size_t n;

        if (p[i] == 0 && !allow_nul) {
            return false;
        }
        n = sf_utf8_next(p + i, len - i, &cp);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}
