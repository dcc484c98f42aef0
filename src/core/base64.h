/* base64: URL-safe base64 without padding (RFC 4648 section 5), for the
 * opaque cursors of paginated lists. */
#ifndef OBJECTD_BASE64_H
#define OBJECTD_BASE64_H

#include <stddef.h>

/* Encodes |len| bytes into |out| (room for 4 * ceil(len / 3) + 1 bytes);
 * returns the length written (NUL-terminated). */
size_t base64url_encode(const void *in, size_t len, char *out);

/* Decodes |len| characters into |out| (room for 3 * len / 4 bytes); returns
 * the decoded length, or -1 on a character outside the alphabet or an
 * impossible length. */
long base64url_decode(const char *in, size_t len, void *out);

#endif
