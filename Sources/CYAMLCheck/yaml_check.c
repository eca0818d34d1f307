// See include/yaml_check.h. yaml.h is libyaml's public header as vendored by Yams 6.2.2 (MIT,
// Kirill Simonov and Ingy döt Net); its functions are linked from Yams' CYaml target.
#define YAML_DECLARE_STATIC 1
#include "yaml.h"
#include "yaml_check.h"
#include <stdint.h>
#include <pthread.h>

static pthread_once_t raise_once = PTHREAD_ONCE_INIT;

/// libyaml refuses more than 1000 levels (a process-wide setting) and, reading flow collections
/// ahead, reports it where the outermost one starts. The check measures nesting itself (and
/// every text Yams composes is checked first, so Yams never sees more than `max_depth` levels):
/// lift libyaml's limit so that the check can name the exact node.
static void raise_nesting_limit(void) { yaml_set_max_nest_level(1 << 24); }

typedef struct {
    char *name;   // owned; NULL for an empty slot
    size_t size;  // expanded size of the anchored node (saturated)
} anchor_slot;

typedef struct {
    anchor_slot *slots;
    size_t capacity;  // a power of two
    size_t count;
} anchor_table;

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ULL; }
    return h;
}

static anchor_slot *find_slot(anchor_slot *slots, size_t capacity, const char *name) {
    size_t i = (size_t)hash_name(name) & (capacity - 1);
    while (slots[i].name && strcmp(slots[i].name, name) != 0) i = (i + 1) & (capacity - 1);
    return &slots[i];
}

/// Records (or redefines: the latest definition wins, as in Yams) an anchor. 0 when out of memory.
static int define_anchor(anchor_table *t, const char *name, size_t size) {
    if ((t->count + 1) * 2 > t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 64;
        anchor_slot *slots = calloc(capacity, sizeof(anchor_slot));
        if (!slots) return 0;
        for (size_t i = 0; i < t->capacity; i++) {
            if (t->slots[i].name) *find_slot(slots, capacity, t->slots[i].name) = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->capacity = capacity;
    }
    anchor_slot *slot = find_slot(t->slots, t->capacity, name);
    if (!slot->name) {
        slot->name = strdup(name);
        if (!slot->name) return 0;
        t->count++;
    }
    slot->size = size;
    return 1;
}

static size_t anchor_size(const anchor_table *t, const char *name) {
    if (!t->capacity) return 0;
    anchor_slot *slot = find_slot(t->slots, t->capacity, name);
    return slot->name ? slot->size : 0;  // an undefined alias: Yams reports it
}

static size_t add(size_t a, size_t b, size_t cap) {
    size_t s = a + b;
    return (s < a || s > cap) ? cap : s;
}

typedef struct {
    size_t size;   // expanded size so far
    char *anchor;  // owned, or NULL
} frame;

ledgerflow_yaml_check_result ledgerflow_yaml_check(const unsigned char *text, size_t length,
                                                   size_t max_expansion, size_t max_depth) {
    ledgerflow_yaml_check_result result = {LEDGERFLOW_YAML_OK, 0, 0, {0}};
    const size_t cap = SIZE_MAX / 4;
    pthread_once(&raise_once, raise_nesting_limit);
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) { result.status = LEDGERFLOW_YAML_NO_MEMORY; return result; }
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser, text, length);

    anchor_table anchors = {NULL, 0, 0};
    frame *stack = NULL;
    size_t depth = 0, stack_capacity = 0;
    size_t aliased = 0;  // total size repeated by aliases
    int done = 0;

    while (!done && result.status == LEDGERFLOW_YAML_OK) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event)) { result.status = LEDGERFLOW_YAML_SYNTAX; break; }
        size_t node = 0;        // the size of a completed node, when one completes
        int completed = 0;
        const char *anchor = NULL;
        char *owned_anchor = NULL;
        switch (event.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth > max_depth) {
                result.status = LEDGERFLOW_YAML_TOO_DEEP;
                result.line = event.start_mark.line + 1;
                result.column = event.start_mark.column + 1;
                break;
            }
            if (event.type == YAML_SCALAR_EVENT) {
                node = add(16, event.data.scalar.length, cap);
                anchor = (const char *)event.data.scalar.anchor;
                completed = 1;
            } else if (event.type == YAML_ALIAS_EVENT) {
                node = anchor_size(&anchors, (const char *)event.data.alias.anchor);
                aliased = add(aliased, node, cap);
                if (aliased > max_expansion) {
                    result.status = LEDGERFLOW_YAML_ALIASES_TOO_LARGE;
                    result.line = event.start_mark.line + 1;
                    result.column = event.start_mark.column + 1;
                    strncpy(result.anchor, (const char *)event.data.alias.anchor, sizeof(result.anchor) - 1);
                    break;
                }
                completed = 1;
            } else {
                const yaml_char_t *a = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor
                                                                              : event.data.mapping_start.anchor;
                if (depth == stack_capacity) {
                    size_t capacity = stack_capacity ? stack_capacity * 2 : 32;
                    frame *grown = realloc(stack, capacity * sizeof(frame));
                    if (!grown) { result.status = LEDGERFLOW_YAML_NO_MEMORY; break; }
                    stack = grown;
                    stack_capacity = capacity;
                }
                stack[depth].size = 16;
                stack[depth].anchor = a ? strdup((const char *)a) : NULL;
                if (a && !stack[depth].anchor) { result.status = LEDGERFLOW_YAML_NO_MEMORY; break; }
                depth++;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth == 0) break;
            depth--;
            node = stack[depth].size;
            owned_anchor = stack[depth].anchor;
            anchor = owned_anchor;
            completed = 1;
            break;
        default: break;
        }
        if (completed && result.status == LEDGERFLOW_YAML_OK) {
            if (anchor && !define_anchor(&anchors, anchor, node)) result.status = LEDGERFLOW_YAML_NO_MEMORY;
            if (depth > 0) stack[depth - 1].size = add(stack[depth - 1].size, node, cap);
        }
        free(owned_anchor);
        yaml_event_delete(&event);
    }

    for (size_t i = 0; i < depth; i++) free(stack[i].anchor);
    free(stack);
    for (size_t i = 0; i < anchors.capacity; i++) free(anchors.slots[i].name);
    free(anchors.slots);
    yaml_parser_delete(&parser);
    return result;
}
