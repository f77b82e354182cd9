/*
 * Checks for the verge commands that use the net module, run before they
 * print or connect: which paths and URIs named in jobs a worker opens (the
 * --allow-uri list of verge serve), media inputs that name further files,
 * MQTT topic filters, and load generator options. Not part of the public
 * API.
 */
#ifndef VERGE_NET_CHECKS_H
#define VERGE_NET_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include "verge/net.h"

enum {
    NET_URI_ALLOW_MAX = 16,
    /* Room for what net_uri_allow_check() writes: a resolved path or a job's URI, and the NUL. */
    NET_URI_OPEN_MAX = 4097,
};

/* One allowed entry; see net_uri_allow_add(). */
typedef struct net_uri_rule {
    bool local;        /* a folder or file on this machine; else a URI prefix */
    bool folder;       /* local: a folder, whose files at any depth are allowed */
    char *resolved;    /* local: absolute, symbolic links, "." and ".." resolved (realpath) */
    char *lexical;     /* local: absolute as given, "." and ".." collapsed, links kept */
    char *prefix;      /* URI: the entry as given */
    size_t authority;  /* URI: length of "scheme://host[:port]" at the start of prefix */
} net_uri_rule;

/* The allowed entries: zero-initialize, then net_uri_allow_add() and net_uri_allow_free(). */
typedef struct net_uri_allow {
    net_uri_rule rules[NET_URI_ALLOW_MAX];
    int count;
} net_uri_allow;

/*
 * Adds an allowed entry, one of:
 *
 *   - a folder or file: "/srv/photos", "/srv/photos/", "file:/srv/photos",
 *     or a path relative to the current folder. It must exist now; it is
 *     resolved (symbolic links, "." and "..") once, here. A folder allows
 *     the regular files below it at any depth, a file only itself.
 *   - a URI prefix with a host: "rtsp://camera.local/", "http://10.0.0.7:8080/live".
 *     Scheme and host compare without case, the rest exactly. A prefix that
 *     does not end with '/' ends at a path level: "rtsp://cam/a" allows
 *     "rtsp://cam/a" and "rtsp://cam/a/b", not "rtsp://cam/ab".
 *
 * Other FFmpeg protocols ("pipe:", "concat:", "data:", ...) cannot be
 * allowed. Returns VERGE_OK, VERGE_STATUS_NOT_FOUND (a path that does not
 * resolve), VERGE_STATUS_INVALID_ARGUMENT (a device, pipe or socket, a URI
 * without scheme://host, more than NET_URI_ALLOW_MAX entries) or
 * VERGE_STATUS_OUT_OF_MEMORY. Messages start with the entry in quotes.
 */
verge_status net_uri_allow_add(net_uri_allow *allow, const char *entry);

/*
 * Decides whether a worker opens `uri`, a path or URI from a job (untrusted).
 *
 *   - A path (absolute, relative to the current folder, or after "file:") is
 *     resolved with realpath() and must lie in an allowed folder, on a path
 *     level boundary, or be an allowed file. It must be a regular file (no
 *     device, pipe, socket or folder), and not a playlist or manifest that
 *     names further files (see net_media_manifest()), because FFmpeg would
 *     open those without this check. `out` receives the resolved path: open
 *     that, not `uri`.
 *   - A URI with a scheme must match an allowed URI prefix as described at
 *     net_uri_allow_add(), and its path must not contain "." or ".." levels
 *     (also percent-encoded). `out` receives `uri` unchanged.
 *
 * `size` must be at least NET_URI_OPEN_MAX. Returns VERGE_OK,
 * VERGE_STATUS_INVALID_ARGUMENT (not allowed; the message quotes `uri` and
 * gives the reason), or VERGE_STATUS_NOT_FOUND (a path in an allowed folder that
 * does not exist; outside them the answer is "not allowed" either way, so
 * that jobs cannot probe which files exist).
 *
 * NOTE: a folder of the path that someone replaces by a symbolic link
 * between this check and the open escapes it; only those who can write in
 * the allowed folders can do that.
 */
verge_status net_uri_allow_check(const net_uri_allow *allow, const char *uri, char *out,
                                 size_t size);

void net_uri_allow_free(net_uri_allow *allow);

/*
 * Returns what the start of a media input is when it is a playlist or
 * manifest whose demuxer opens further files or URLs ("an HLS playlist",
 * "an ffconcat script", "a DASH manifest", "an IMF composition playlist"),
 * or NULL. FFmpeg's HLS and concat demuxers want their mark at the very
 * start; DASH and IMF marks are looked for in the first `size` bytes
 * (give at least 4096 when there are that many).
 */
const char *net_media_manifest(const void *bytes, size_t size);

/*
 * Checks an MQTT subscription filter: 1..65535 bytes of UTF-8, '+' and '#'
 * only as whole levels, '#' only last. Returns VERGE_OK or
 * VERGE_STATUS_INVALID_ARGUMENT naming the filter and the rule it breaks.
 */
verge_status net_topic_filter_check(const char *filter);

/*
 * Checks the options of verge_loadgen_run() without running anything
 * (devices, rate, duration, topic, payload size). Returns VERGE_OK or
 * VERGE_STATUS_INVALID_ARGUMENT naming the option.
 */
verge_status net_loadgen_check(const verge_loadgen_options *options);

#endif
