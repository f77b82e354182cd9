/*
 * Feature lists and window configuration: parsing, checking, column names
 * and row counts.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "verge/signal.h"

static const char *const feature_names[] = {
    [VERGE_FEATURE_MEAN] = "mean",
    [VERGE_FEATURE_STD] = "std",
    [VERGE_FEATURE_VAR] = "var",
    [VERGE_FEATURE_MIN] = "min",
    [VERGE_FEATURE_MAX] = "max",
    [VERGE_FEATURE_RMS] = "rms",
    [VERGE_FEATURE_P2P] = "p2p",
    [VERGE_FEATURE_ENERGY] = "energy",
    [VERGE_FEATURE_ZERO_CROSSINGS] = "zero_crossings",
    [VERGE_FEATURE_SKEW] = "skew",
    [VERGE_FEATURE_KURTOSIS] = "kurtosis",
    [VERGE_FEATURE_BAND_ENERGY] = "band_energy",
    [VERGE_FEATURE_DOMINANT_FREQ] = "dominant_freq",
};

void verge_features_config_default(verge_features_config *config)
{
    memset(config, 0, sizeof(*config));
    config->window = 10;
    config->step = 1;
    config->fill.method = VERGE_FILL_MEDIAN;
    config->features[0].kind = VERGE_FEATURE_MEAN;
    config->features[1].kind = VERGE_FEATURE_STD;
    config->features[2].kind = VERGE_FEATURE_ENERGY;
    config->feature_count = 3;
    config->sample_rate = 1.0;
}

static verge_status parse_feature(const char *text, size_t length, verge_feature *feature)
{
    const char *colon = memchr(text, ':', length);
    size_t name_length = colon != NULL ? (size_t)(colon - text) : length;

    for (size_t kind = 0; kind < VERGE_ARRAY_SIZE(feature_names); kind++) {
        const char *name = feature_names[kind];
        if (strlen(name) != name_length || memcmp(name, text, name_length) != 0)
            continue;

        feature->kind = (verge_feature_kind)kind;
        feature->bands = 0;
        if (kind != VERGE_FEATURE_BAND_ENERGY) {
            if (colon != NULL)
                return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                                  "feature '%.*s': '%s' takes no ':' argument", (int)length, text,
                                  name);
            return VERGE_OK;
        }

        unsigned long long bands = 0;
        size_t digits = 0;
        if (colon != NULL) {
            for (const char *p = colon + 1; p < text + length; p++, digits++) {
                if (*p < '0' || *p > '9' || bands > VERGE_WINDOW_MAX)
                    break;
                bands = bands * 10 + (unsigned long long)(*p - '0');
            }
        }
        if (colon == NULL || digits == 0 || colon + 1 + digits != text + length || bands < 1 ||
            bands > VERGE_WINDOW_MAX)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "feature '%.*s': expected band_energy:B with B bands, B >= 1",
                              (int)length, text);
        feature->bands = (uint32_t)bands;
        return VERGE_OK;
    }
    return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                      "unknown feature '%.*s': expected mean, std, var, min, max, rms, p2p, "
                      "energy, zero_crossings, skew, kurtosis, band_energy:B or dominant_freq",
                      (int)length, text);
}

verge_status verge_features_parse_list(const char *text, verge_features_config *config)
{
    verge_feature parsed[VERGE_FEATURES_MAX];
    size_t count = 0;
    const char *p = text;

    if (text == NULL || text[0] == '\0')
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "feature list is empty");
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t length = comma != NULL ? (size_t)(comma - p) : strlen(p);

        if (length == 0)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "feature list '%s' has an empty entry", text);
        if (count == VERGE_FEATURES_MAX)
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                              "feature list '%s' has more than %d entries", text,
                              VERGE_FEATURES_MAX);
        verge_status status = parse_feature(p, length, &parsed[count]);
        if (status != VERGE_OK)
            return status;
        for (size_t i = 0; i < count; i++) {
            if (parsed[i].kind == parsed[count].kind)
                return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                                  "feature list '%s' names '%s' twice", text,
                                  feature_names[parsed[count].kind]);
        }
        count++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    memcpy(config->features, parsed, count * sizeof(parsed[0]));
    config->feature_count = count;
    return VERGE_OK;
}

verge_status verge_features_config_check(const verge_features_config *config)
{
    if (config == NULL)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "features: NULL configuration");
    if (config->window < 1 || config->window > VERGE_WINDOW_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "window %zu is out of range: expected 1 to %zu samples", config->window,
                          (size_t)VERGE_WINDOW_MAX);
    if (config->step < 1 || config->step > ((size_t)1 << 40))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "step %zu is out of range: expected 1 to 2^40 samples", config->step);
    if (config->feature_count < 1 || config->feature_count > VERGE_FEATURES_MAX)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "feature count %zu is out of range: expected 1 to %d",
                          config->feature_count, VERGE_FEATURES_MAX);
    if (!(config->sample_rate > 0) || isinf(config->sample_rate))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "sample rate %g is invalid: expected a positive number of samples per "
                          "second",
                          config->sample_rate);
    if ((unsigned)config->fill.method > VERGE_FILL_RUNNING_MEDIAN)
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "fill method %d is unknown",
                          (int)config->fill.method);
    if (config->fill.method == VERGE_FILL_RUNNING_MEDIAN &&
        (config->fill.k < 1 || config->fill.k > VERGE_WINDOW_MAX))
        return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                          "fill median:%zu: K must be from 1 to %zu", config->fill.k,
                          (size_t)VERGE_WINDOW_MAX);

    for (size_t i = 0; i < config->feature_count; i++) {
        const verge_feature *f = &config->features[i];
        if ((unsigned)f->kind >= VERGE_ARRAY_SIZE(feature_names))
            return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "feature %zu: kind %d is unknown", i,
                              (int)f->kind);
        for (size_t j = 0; j < i; j++) {
            if (config->features[j].kind == f->kind)
                return verge_fail(VERGE_STATUS_INVALID_ARGUMENT, "feature '%s' is listed twice",
                                  feature_names[f->kind]);
        }
        if (f->kind == VERGE_FEATURE_BAND_ENERGY) {
            const size_t bins = config->window / 2 + 1;
            if (f->bands < 1 || f->bands > bins)
                return verge_fail(VERGE_STATUS_INVALID_ARGUMENT,
                                  "band_energy:%u: a window of %zu samples has %zu spectrum bins, "
                                  "so use 1 to %zu bands",
                                  f->bands, config->window, bins, bins);
        }
    }
    return VERGE_OK;
}

size_t verge_features_columns(const verge_features_config *config)
{
    size_t columns = 0;

    for (size_t i = 0; i < config->feature_count; i++)
        columns += config->features[i].kind == VERGE_FEATURE_BAND_ENERGY
                       ? config->features[i].bands
                       : 1;
    return columns;
}

const char *verge_features_column_name(const verge_features_config *config, size_t column,
                                       char *buffer, size_t size)
{
    if (size == 0)
        return buffer;
    buffer[0] = '\0';
    for (size_t i = 0; i < config->feature_count; i++) {
        const verge_feature *f = &config->features[i];
        const size_t width = f->kind == VERGE_FEATURE_BAND_ENERGY ? f->bands : 1;

        if (column < width) {
            if (f->kind == VERGE_FEATURE_BAND_ENERGY)
                snprintf(buffer, size, "band_energy_%zu", column);
            else
                snprintf(buffer, size, "%s", feature_names[f->kind]);
            return buffer;
        }
        column -= width;
    }
    return buffer;
}

size_t verge_features_rows(const verge_features_config *config, size_t count)
{
    if (config->window < 1 || config->step < 1 || count < config->window)
        return 0;
    return (count - config->window) / config->step + 1;
}
