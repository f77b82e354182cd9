/*
 * The --allow-uri list of verge serve (net/net_checks.h) on a real folder
 * tree made here. Cases: '..' and symbolic links that leave an allowed
 * folder, folders that only share a name's start (brk, brk2), devices,
 * pipes and folders named as files, "file:" paths, and playlists that name
 * further files. URI prefixes match on level boundaries, with scheme and
 * host in any case; dot levels (also percent-encoded), other FFmpeg
 * protocols and bad entries are rejected. Also topic filters and playlist
 * recognition.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "net/net_checks.h"

static char root[] = "/tmp/verge-uri-allow-XXXXXX";

static const char *at(const char *name)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];

    snprintf(path, sizeof(paths[0]), "%s/%s", root, name);
    return path;
}

static void write_file(const char *name, const char *text)
{
    FILE *file = fopen(at(name), "w");

    CHECK_MSG(file != NULL, "cannot write %s", at(name));
    if (file != NULL) {
        fputs(text, file);
        fclose(file);
    }
}

/* Checks `uri` and expects `status`; on VERGE_OK also the path or URI to open. */
static void expect(const net_uri_allow *allow, const char *uri, verge_status status,
                   const char *opened, const char *words)
{
    char out[NET_URI_OPEN_MAX];
    verge_status got = net_uri_allow_check(allow, uri, out, sizeof(out));

    CHECK_MSG(got == status, "%s: status %s, expected %s (%s)", uri, verge_status_str(got),
              verge_status_str(status), got != VERGE_OK ? verge_error_message() : out);
    if (got == VERGE_OK && opened != NULL)
        CHECK_MSG(strcmp(out, opened) == 0, "%s: opens '%s', expected '%s'", uri, out, opened);
    if (got != VERGE_OK)
        CHECK_MSG(strstr(verge_error_message(), uri) != NULL, "%s: message '%s' lacks the URI",
                  uri, verge_error_message());
    if (got != VERGE_OK && words != NULL)
        CHECK_MSG(strstr(verge_error_message(), words) != NULL, "%s: message '%s' lacks '%s'",
                  uri, verge_error_message(), words);
}

static void make_tree(void)
{
    CHECK(mkdtemp(root) != NULL);
    CHECK(mkdir(at("brk"), 0755) == 0);
    CHECK(mkdir(at("brk/sub"), 0755) == 0);
    CHECK(mkdir(at("brk2"), 0755) == 0);
    CHECK(mkdir(at("breaker"), 0755) == 0);
    write_file("brk/a.jpg", "picture");
    write_file("brk/sub/b.jpg", "picture");
    write_file("brk2/x.jpg", "picture");
    write_file("breaker/x.jpg", "secret");
    write_file("brk/play.m3u8", "#EXTM3U\n#EXTINF:2.0,\n/etc/passwd.ts\n#EXT-X-ENDLIST\n");
    write_file("brk/list.txt", "ffconcat version 1.0\nfile ../breaker/x.jpg\n");
    CHECK(symlink(at("breaker/x.jpg"), at("brk/out.jpg")) == 0);
    CHECK(symlink(at("breaker"), at("brk/outdir")) == 0);
    CHECK(symlink(at("brk/a.jpg"), at("brk/in.jpg")) == 0);
    CHECK(mkfifo(at("brk/fifo"), 0644) == 0);
}

static void paths_stay_in_allowed_folders(void)
{
    net_uri_allow allow = {0};
    char resolved_a[4200], cwd[4096], relative[4200];

    CHECK_OK(net_uri_allow_add(&allow, at("brk/")));
    CHECK_EQ_INT(allow.count, 1);
    CHECK(allow.rules[0].local);
    CHECK(allow.rules[0].folder);
    snprintf(resolved_a, sizeof(resolved_a), "%s/a.jpg", allow.rules[0].resolved);

    expect(&allow, at("brk/a.jpg"), VERGE_OK, resolved_a, NULL);
    expect(&allow, at("brk/sub/../a.jpg"), VERGE_OK, resolved_a, NULL);
    expect(&allow, at("brk//./a.jpg"), VERGE_OK, resolved_a, NULL);
    expect(&allow, at("brk/in.jpg"), VERGE_OK, resolved_a, NULL);
    expect(&allow, at("brk/sub/b.jpg"), VERGE_OK, NULL, NULL);
    {
        char uri[600];

        snprintf(uri, sizeof(uri), "file:%s", at("brk/a.jpg"));
        expect(&allow, uri, VERGE_OK, resolved_a, NULL);
        snprintf(uri, sizeof(uri), "file:%s", at("brk/../breaker/x.jpg"));
        expect(&allow, uri, VERGE_STATUS_INVALID_ARGUMENT, NULL, "not in a folder");
    }
    /* Relative to the current folder, as FFmpeg would read it. */
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK(chdir(at("brk")) == 0);
    snprintf(relative, sizeof(relative), "sub/../a.jpg");
    expect(&allow, relative, VERGE_OK, resolved_a, NULL);
    expect(&allow, "../breaker/x.jpg", VERGE_STATUS_INVALID_ARGUMENT, NULL, "not in a folder");
    CHECK(chdir(cwd) == 0);

    /* Out of the folder: '..', a sibling sharing the name's start, symbolic links. */
    expect(&allow, at("brk/../breaker/x.jpg"), VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "not in a folder");
    expect(&allow, at("brk/../../../../../../dev/zero"), VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "not in a folder");
    expect(&allow, at("brk2/x.jpg"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "not in a folder");
    expect(&allow, at("brk/out.jpg"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "symbolic links");
    expect(&allow, at("brk/outdir/x.jpg"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "not in a folder");
    expect(&allow, "/etc/passwd", VERGE_STATUS_INVALID_ARGUMENT, NULL, "not in a folder");
    expect(&allow, "", VERGE_STATUS_INVALID_ARGUMENT, NULL, "not in a folder");

    /* Not regular files. */
    expect(&allow, at("brk/fifo"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "not a regular file");
    expect(&allow, at("brk/sub"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "not a regular file");
    expect(&allow, at("brk"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "not a regular file");

    /* Missing files: "not found" inside the folder only, so jobs cannot probe the rest. */
    expect(&allow, at("brk/missing.jpg"), VERGE_STATUS_NOT_FOUND, NULL, "No such file");
    expect(&allow, at("brk/../breaker/missing.jpg"), VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "not in a folder");
    expect(&allow, "/nonexistent/x.jpg", VERGE_STATUS_INVALID_ARGUMENT, NULL, "not in a folder");

    /* Inputs that make FFmpeg open further files. */
    expect(&allow, at("brk/play.m3u8"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "an HLS playlist");
    expect(&allow, at("brk/list.txt"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "ffconcat script");

    /* No URI prefix allowed: URIs and other protocols are refused. */
    expect(&allow, "http://127.0.0.1/a.jpg", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "does not start with a URI prefix");
    expect(&allow, "pipe:0", VERGE_STATUS_INVALID_ARGUMENT, NULL, "no other FFmpeg protocols");
    {
        char uri[600];

        snprintf(uri, sizeof(uri), "concat:%s|/etc/passwd", at("brk/a.jpg"));
        expect(&allow, uri, VERGE_STATUS_INVALID_ARGUMENT, NULL, "no other FFmpeg protocols");
        snprintf(uri, sizeof(uri), "subfile,,start,0,end,4,,:%s", at("breaker/x.jpg"));
        expect(&allow, uri, VERGE_STATUS_INVALID_ARGUMENT, NULL, "no other FFmpeg protocols");
    }
    net_uri_allow_free(&allow);
    CHECK_EQ_INT(allow.count, 0);
}

static void one_file_or_the_whole_tree(void)
{
    net_uri_allow allow = {0};
    char uri[600];

    /* A file entry allows that file only; "file:" entries read like paths. */
    snprintf(uri, sizeof(uri), "file:%s", at("brk/a.jpg"));
    CHECK_OK(net_uri_allow_add(&allow, uri));
    CHECK(allow.rules[0].local);
    CHECK(!allow.rules[0].folder);
    expect(&allow, at("brk/a.jpg"), VERGE_OK, NULL, NULL);
    expect(&allow, at("brk/in.jpg"), VERGE_OK, NULL, NULL);
    expect(&allow, at("brk/sub/b.jpg"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "not in a folder");
    net_uri_allow_free(&allow);

    /* "/" allows every regular file, and still no devices. */
    CHECK_OK(net_uri_allow_add(&allow, "/"));
    expect(&allow, at("breaker/x.jpg"), VERGE_OK, NULL, NULL);
    expect(&allow, "/dev/zero", VERGE_STATUS_INVALID_ARGUMENT, NULL, "not a regular file");
    expect(&allow, "/dev/null", VERGE_STATUS_INVALID_ARGUMENT, NULL, "not a regular file");
    net_uri_allow_free(&allow);
}

static void uri_prefixes(void)
{
    net_uri_allow allow = {0};

    CHECK_OK(net_uri_allow_add(&allow, "rtsp://cam.local/live"));
    CHECK_OK(net_uri_allow_add(&allow, "HTTP://10.0.0.7:8080/"));
    CHECK_OK(net_uri_allow_add(&allow, "https://cdn.example"));
    CHECK_EQ_INT(allow.count, 3);

    expect(&allow, "rtsp://cam.local/live", VERGE_OK, "rtsp://cam.local/live", NULL);
    expect(&allow, "rtsp://cam.local/live/1", VERGE_OK, "rtsp://cam.local/live/1", NULL);
    expect(&allow, "rtsp://cam.local/live?channel=2", VERGE_OK, NULL, NULL);
    expect(&allow, "RTSP://CAM.LOCAL/live/1", VERGE_OK, NULL, NULL);
    expect(&allow, "http://10.0.0.7:8080/a.jpg", VERGE_OK, NULL, NULL);
    expect(&allow, "https://cdn.example/any/where.mp4", VERGE_OK, NULL, NULL);

    /* Level boundaries and hosts. */
    expect(&allow, "rtsp://cam.local/live2", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "does not start with a URI prefix");
    expect(&allow, "rtsp://cam.local/LIVE", VERGE_STATUS_INVALID_ARGUMENT, NULL, NULL);
    expect(&allow, "rtsp://cam.local.evil.example/live", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           NULL);
    expect(&allow, "rtsp://cam.local@evil.example/live", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           NULL);
    expect(&allow, "https://cdn.example.evil.example/x", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           NULL);
    expect(&allow, "https://cdn.example:444/x", VERGE_STATUS_INVALID_ARGUMENT, NULL, NULL);
    expect(&allow, "http://10.0.0.7/a.jpg", VERGE_STATUS_INVALID_ARGUMENT, NULL, NULL);
    expect(&allow, "rtmp://cam.local/live", VERGE_STATUS_INVALID_ARGUMENT, NULL, NULL);

    /* Dot levels, also percent-encoded or with backslashes. */
    expect(&allow, "rtsp://cam.local/live/../admin", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "'.' or '..' level");
    expect(&allow, "http://10.0.0.7:8080/%2e%2E/secret", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "'.' or '..' level");
    expect(&allow, "http://10.0.0.7:8080/a/.%2e", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "'.' or '..' level");
    expect(&allow, "http://10.0.0.7:8080/a\\..\\b", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "'.' or '..' level");
    expect(&allow, "http://10.0.0.7:8080/./a.jpg", VERGE_STATUS_INVALID_ARGUMENT, NULL,
           "'.' or '..' level");
    expect(&allow, "http://10.0.0.7:8080/a..b/c.jpg", VERGE_OK, NULL, NULL);
    expect(&allow, "http://10.0.0.7:8080/a.jpg?x=../y", VERGE_OK, NULL, NULL);

    /* Without a folder entry, paths are refused. */
    expect(&allow, at("brk/a.jpg"), VERGE_STATUS_INVALID_ARGUMENT, NULL, "opens no paths");
    net_uri_allow_free(&allow);
}

static void bad_entries(void)
{
    net_uri_allow allow = {0};
    char name[64];

    CHECK_STATUS(net_uri_allow_add(&allow, ""), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(net_uri_allow_add(&allow, at("brk/img_")), VERGE_STATUS_NOT_FOUND);
    CHECK(strstr(verge_error_message(), "must exist") != NULL);
    CHECK_STATUS(net_uri_allow_add(&allow, "/dev/zero"), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "device, pipe or socket") != NULL);
    CHECK_STATUS(net_uri_allow_add(&allow, at("brk/fifo")), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(net_uri_allow_add(&allow, "pipe:"), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "scheme://host") != NULL);
    CHECK_STATUS(net_uri_allow_add(&allow, "concat:"), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(net_uri_allow_add(&allow, "http://"), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(net_uri_allow_add(&allow, "http:///x"), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_EQ_INT(allow.count, 0);
    for (int i = 0; i < NET_URI_ALLOW_MAX; i++) {
        snprintf(name, sizeof(name), "rtsp://cam%d/", i);
        CHECK_OK(net_uri_allow_add(&allow, name));
    }
    CHECK_STATUS(net_uri_allow_add(&allow, "rtsp://one-more/"), VERGE_STATUS_INVALID_ARGUMENT);
    net_uri_allow_free(&allow);
}

static void manifests_and_topic_filters(void)
{
    static const char hls[] = "#EXTM3U\n#EXT-X-VERSION:3\n";
    static const char dash[] = "<?xml version=\"1.0\"?>\n<mpd xmlns=\"urn:mpeg:dash:schema\">";
    static const char jpeg[] = "\xff\xd8\xff\xe0\0\x10JFIF";

    CHECK(strcmp(net_media_manifest(hls, sizeof(hls) - 1), "an HLS playlist") == 0);
    CHECK(strcmp(net_media_manifest(dash, sizeof(dash) - 1), "a DASH manifest") == 0);
    CHECK(net_media_manifest(hls, 6) == NULL);
    CHECK(net_media_manifest(jpeg, sizeof(jpeg) - 1) == NULL);
    CHECK(net_media_manifest(NULL, 0) == NULL);
    CHECK(net_media_manifest("", 0) == NULL);

    CHECK_OK(net_topic_filter_check("sensors/+/value"));
    CHECK_OK(net_topic_filter_check("#"));
    CHECK_OK(net_topic_filter_check("sensors/#"));
    CHECK_STATUS(net_topic_filter_check("#/a"), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(verge_error_message(), "'#/a'") != NULL);
    CHECK_STATUS(net_topic_filter_check("sensors/a+/value"), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(net_topic_filter_check("sensors#"), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(net_topic_filter_check(""), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(net_topic_filter_check(NULL), VERGE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(net_topic_filter_check("bad\xff/utf8"), VERGE_STATUS_INVALID_ARGUMENT);
}

int main(void)
{
    char command[600];

    make_tree();
    RUN(paths_stay_in_allowed_folders);
    RUN(one_file_or_the_whole_tree);
    RUN(uri_prefixes);
    RUN(bad_entries);
    RUN(manifests_and_topic_filters);
    snprintf(command, sizeof(command), "rm -rf %s", root);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_summary();
}
