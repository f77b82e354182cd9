/*
 * Checks run before a command prints or connects: the --allow-uri list of
 * verge serve, playlists and manifests that name further files, and MQTT
 * topic filters (layouts and rules in net/net_checks.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>

#include "core/core.h"
#include "net/net_checks.h"

/* Bytes read from a local file to recognize a playlist or manifest. */
enum { MANIFEST_SNIFF_BYTES = 4096 };

/* The characters FFmpeg accepts in a protocol name before ':' (libavformat's URL_SCHEME_CHARS). */
static const char scheme_chars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";

/*
 * The local path that FFmpeg would open for `text`, or NULL when FFmpeg
 * would read it through another protocol. FFmpeg takes "file:PATH" as PATH,
 * text that starts with '/' as a file, and "NAME:..." (or "subfile,...:")
 * as protocol NAME.
 */
static const char *local_path(const char *text)
{
    size_t scheme = strspn(text, scheme_chars);

    if (strncmp(text, "file:", 5) == 0)
        return text + 5;
    if (text[0] == '/')
        return text;
    if (text[scheme] == ':' || strncmp(text, "subfile,", 8) == 0)
        return NULL;
    return text;
}

/* Length of "scheme://authority" at the start of a URI that has "scheme://"; 0 otherwise. */
static size_t authority_length(const char *uri)
{
    size_t scheme = strspn(uri, scheme_chars);

    if (scheme == 0 || strncmp(uri + scheme, "://", 3) != 0)
        return 0;
    return scheme + 3 + strcspn(uri + scheme + 3, "/?#");
}

/*
 * Writes `path` as an absolute path with empty, "." and ".." levels
 * collapsed, without looking at the file system. Returns false when it
 * does not fit or the current folder is unknown.
 */
static bool lexical_path(const char *path, char *out, size_t size)
{
    char joined[2 * PATH_MAX];
    size_t used = 0;

    if (path[0] == '/') {
        if (strlen(path) >= sizeof(joined))
            return false;
        snprintf(joined, sizeof(joined), "%s", path);
    } else {
        char cwd[PATH_MAX];

        if (getcwd(cwd, sizeof(cwd)) == NULL ||
            (size_t)snprintf(joined, sizeof(joined), "%s/%s", cwd, path) >= sizeof(joined))
            return false;
    }
    for (const char *p = joined; *p != '\0';) {
        size_t length;

        while (*p == '/')
            p++;
        length = strcspn(p, "/");
        if (length == 0 || (length == 1 && p[0] == '.')) {
            /* an empty or "." level */
        } else if (length == 2 && p[0] == '.' && p[1] == '.') {
            while (used > 0 && out[used - 1] != '/')
                used--;
            if (used > 0)
                used--; /* the '/' before the level removed */
        } else {
            if (used + 1 + length >= size)
                return false;
            out[used++] = '/';
            memcpy(out + used, p, length);
            used += length;
        }
        p += length;
    }
    if (used == 0) {
        if (size < 2)
            return false;
        out[used++] = '/';
    }
    out[used] = '\0';
    return true;
}

/* True when `path` (absolute, normalized) is `base` or lies below it, on a level boundary. */
static bool path_within(const char *path, const char *base, bool folder)
{
    size_t length = strlen(base);

    if (!folder)
        return strcmp(path, base) == 0;
    if (strcmp(base, "/") == 0)
        return path[0] == '/';
    return strncmp(path, base, length) == 0 && (path[length] == '\0' || path[length] == '/');
}

static bool local_allowed(const net_uri_allow *allow, const char *path, bool lexical)
{
    for (int i = 0; i < allow->count; i++) {
        const net_uri_rule *rule = &allow->rules[i];

        if (rule->local && (path_within(path, rule->resolved, rule->folder) ||
                            (lexical && path_within(path, rule->lexical, rule->folder))))
            return true;
    }
    return false;
}

static bool has_local_rules(const net_uri_allow *allow)
{
    for (int i = 0; i < allow->count; i++)
        if (allow->rules[i].local)
            return true;
    return false;
}

/* True when a path level (up to `end`) reads "." or "..", also with dots written as %2e. */
static bool dot_level(const char *level, const char *end)
{
    int dots = 0;

    for (const char *p = level; p < end; dots++) {
        if (*p == '.')
            p++;
        else if (end - p >= 3 && p[0] == '%' && p[1] == '2' && (p[2] == 'e' || p[2] == 'E'))
            p += 3;
        else
            return false;
    }
    return dots == 1 || dots == 2;
}

/* True when the path of a URI (after its authority, before '?' or '#') has a "." or ".." level. */
static bool uri_has_dot_levels(const char *path)
{
    const char *end = path + strcspn(path, "?#");

    for (const char *level = path; level < end;) {
        const char *next = level;

        while (next < end && *next != '/' && *next != '\\')
            next++;
        if (dot_level(level, next))
            return true;
        level = next < end ? next + 1 : end;
    }
    return false;
}

static bool uri_matches(const net_uri_rule *rule, const char *uri, size_t authority)
{
    const char *path = rule->prefix + rule->authority;
    size_t length = strlen(path);
    char next;

    if (authority != rule->authority || strncasecmp(uri, rule->prefix, authority) != 0)
        return false;
    if (strncmp(uri + authority, path, length) != 0)
        return false;
    next = uri[authority + length];
    return length == 0 || path[length - 1] == '/' || next == '\0' || next == '/' ||
           next == '?' || next == '#';
}

void net_uri_allow_free(net_uri_allow *allow)
{
    for (int i = 0; i < allow->count; i++) {
        free(allow->rules[i].resolved);
        free(allow->rules[i].lexical);
        free(allow->rules[i].prefix);
    }
    memset(allow, 0, sizeof(*allow));
}

verge_status net_uri_allow_add(net_uri_allow *allow, const char *entry)
{
    net_uri_rule rule = {0};
    char resolved[PATH_MAX], lexical[PATH_MAX];
    const char *path;
    struct stat info;

    if (entry == NULL || entry[0] == '\0')
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "'': an allowed path or URI is empty");
    if (allow->count == NET_URI_ALLOW_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "'%s': at most %d allowed entries",
                          entry, NET_URI_ALLOW_MAX);
    path = local_path(entry);
    if (path != NULL) {
        if (path[0] == '\0' || realpath(path, resolved) == NULL)
            return verge_fail(errno == ENOENT || path[0] == '\0' ? VERGE_STATUS_NOT_FOUND
                                                                  : VERGE_STATUS_INVALID_ARGUMENT,
                              "'%s': %s (an allowed folder or file must exist when the worker "
                              "starts)", entry, path[0] == '\0' ? "no path" : strerror(errno));
        if (stat(resolved, &info) != 0)
            return verge_fail(VERGE_STATUS_NOT_FOUND, "'%s': %s", entry, strerror(errno));
        if (!S_ISDIR(info.st_mode) && !S_ISREG(info.st_mode))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "'%s' is a device, pipe or socket; only folders and regular files "
                              "can be allowed", entry);
        if (!lexical_path(path, lexical, sizeof(lexical)))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "'%s': path too long", entry);
        rule.local = true;
        rule.folder = S_ISDIR(info.st_mode);
        rule.resolved = strdup(resolved);
        rule.lexical = strdup(lexical);
        if (rule.resolved == NULL || rule.lexical == NULL)
            goto out_of_memory;
    } else {
        rule.authority = authority_length(entry);
        if (rule.authority == 0 || entry[rule.authority - 1] == '/')
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "'%s': a URI prefix needs scheme://host (e.g. rtsp://camera.local/); "
                              "other FFmpeg protocols cannot be allowed", entry);
        rule.prefix = strdup(entry);
        if (rule.prefix == NULL)
            goto out_of_memory;
    }
    allow->rules[allow->count++] = rule;
    return VERGE_OK;

out_of_memory:
    free(rule.resolved);
    free(rule.lexical);
    return verge_fail(VERGE_STATUS_OUT_OF_MEMORY, "'%s': cannot store the allowed entry", entry);
}

/* Checks a path from a job; see net_uri_allow_check(). */
static verge_status check_local(const net_uri_allow *allow, const char *uri, const char *path,
                                char *out, size_t size)
{
    char resolved[PATH_MAX], lexical[PATH_MAX];
    uint8_t start[MANIFEST_SNIFF_BYTES];
    const char *manifest;
    struct stat info;
    ssize_t got;
    int fd, error;

    if (path[0] == '\0' || realpath(path, resolved) == NULL) {
        error = path[0] == '\0' ? ENOENT : errno;
        /* Only inside the allowed folders may a job learn whether a file exists. */
        if (lexical_path(path, lexical, sizeof(lexical)) && local_allowed(allow, lexical, true))
            return verge_fail(error == ENOENT ? VERGE_STATUS_NOT_FOUND : VERGE_STATUS_IO_ERROR,
                              "'%s': %s", uri, strerror(error));
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "'%s' is not in a folder this worker allows (--allow-uri)", uri);
    }
    if (!local_allowed(allow, resolved, false))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "'%s' is not in a folder this worker allows (--allow-uri; paths are "
                          "compared after resolving '..' and symbolic links)", uri);
    if (stat(resolved, &info) != 0)
        return verge_fail(VERGE_STATUS_NOT_FOUND, "'%s': %s", uri, strerror(errno));
    if (!S_ISREG(info.st_mode))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "'%s' is not a regular file (a folder, device, pipe or socket); "
                          "workers open files only", uri);

    fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return verge_fail(VERGE_STATUS_IO_ERROR, "'%s': %s", uri, strerror(errno));
    got = read(fd, start, sizeof(start));
    error = errno;
    close(fd);
    if (got < 0)
        return verge_fail(VERGE_STATUS_IO_ERROR, "'%s': %s", uri, strerror(error));
    manifest = net_media_manifest(start, (size_t)got);
    if (manifest != NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "'%s' is %s, which names further files or URLs that --allow-uri "
                          "cannot check; send the video itself", uri, manifest);

    if (strlen(resolved) >= size)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "'%s': resolved path too long", uri);
    memcpy(out, resolved, strlen(resolved) + 1);
    return VERGE_OK;
}

verge_status net_uri_allow_check(const net_uri_allow *allow, const char *uri, char *out,
                                 size_t size)
{
    const char *path;
    size_t authority;

    if (allow == NULL || uri == NULL || out == NULL || size < NET_URI_OPEN_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "net_uri_allow_check: bad argument");
    out[0] = '\0';
    path = local_path(uri);
    if (path != NULL) {
        if (!has_local_rules(allow))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "'%s': this worker opens no paths (--allow-uri names no folder)",
                              uri);
        return check_local(allow, uri, path, out, size);
    }

    authority = authority_length(uri);
    if (authority == 0 || uri[authority - 1] == '/')
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "'%s' is neither a path nor a scheme://host URI; workers open no other "
                          "FFmpeg protocols", uri);
    if (uri_has_dot_levels(uri + authority))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "'%s' has a '.' or '..' level in its path; send the URI without them",
                          uri);
    for (int i = 0; i < allow->count; i++) {
        if (!allow->rules[i].local && uri_matches(&allow->rules[i], uri, authority)) {
            if (strlen(uri) >= size)
                return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "'%s': URI too long", uri);
            memcpy(out, uri, strlen(uri) + 1);
            return VERGE_OK;
        }
    }
    return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                      "'%s' does not start with a URI prefix this worker allows (--allow-uri)",
                      uri);
}

/* True when `needle` occurs in bytes[0..size), ignoring ASCII case. */
static bool contains_nocase(const uint8_t *bytes, size_t size, const char *needle)
{
    size_t length = strlen(needle);

    for (size_t i = 0; i + length <= size; i++)
        if (strncasecmp((const char *)bytes + i, needle, length) == 0)
            return true;
    return false;
}

const char *net_media_manifest(const void *data, size_t size)
{
    const uint8_t *bytes = data;

    if (bytes == NULL)
        return NULL;
    if (size >= 7 && memcmp(bytes, "#EXTM3U", 7) == 0)
        return "an HLS playlist";
    if (size >= 16 && memcmp(bytes, "ffconcat version", 16) == 0)
        return "an ffconcat script";
    if (contains_nocase(bytes, size, "<MPD"))
        return "a DASH manifest";
    if (contains_nocase(bytes, size, "<CompositionPlaylist"))
        return "an IMF composition playlist";
    return NULL;
}

verge_status net_topic_filter_check(const char *filter)
{
    size_t length = filter != NULL ? strlen(filter) : 0;

    if (length == 0 || length > 65535)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "topic filter of %zu bytes; expected 1..65535", length);
    if (mosquitto_validate_utf8(filter, (int)length) != MOSQ_ERR_SUCCESS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "topic filter '%s' is not valid UTF-8 without control characters",
                          filter);
    if (mosquitto_sub_topic_check(filter) != MOSQ_ERR_SUCCESS)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "topic filter '%s': '+' and '#' must each fill a whole level, and '#' "
                          "must be the last level (e.g. sensors/+/value, sensors/#)", filter);
    return VERGE_OK;
}
