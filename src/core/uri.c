/*
 * URI helpers shared by the media sources and the MQTT worker.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "verge/media.h"

bool verge_uri_is_network(const char *uri)
{
    const char *separator = strstr(uri, "://");
    const char *c;

    if (separator == NULL || separator == uri || strncmp(uri, "file:", 5) == 0)
        return false;
    for (c = uri; c < separator; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '+' || *c == '-' || *c == '.'))
            return false;
    return true;
}

const char *verge_uri_redact(const char *uri, char *buf, size_t size)
{
    const char *authority, *end, *at = NULL, *colon = NULL;
    size_t prefix;

    if (size == 0)
        return buf;
    snprintf(buf, size, "%s", uri);
    if (!verge_uri_is_network(uri))
        return buf;
    authority = strstr(uri, "://") + 3;
    end = authority + strcspn(authority, "/?#");
    /* The last '@' ends the user information, whose first ':' starts the password. */
    for (const char *c = authority; c < end; c++)
        if (*c == '@')
            at = c;
    if (at != NULL)
        colon = memchr(authority, ':', (size_t)(at - authority));
    if (colon == NULL)
        return buf;
    prefix = (size_t)(colon + 1 - uri);
    snprintf(buf, size, "%.*s***%s", (int)prefix, uri, at);
    return buf;
}
