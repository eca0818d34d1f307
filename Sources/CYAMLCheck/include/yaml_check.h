#ifndef LEDGERFLOW_YAML_CHECK_H
#define LEDGERFLOW_YAML_CHECK_H

#include <stddef.h>

/// What `ledgerflow_yaml_check` found.
typedef enum {
    LEDGERFLOW_YAML_OK = 0,
    /// A node nested deeper than `max_depth` (the root is level 0): `line`/`column` is the node.
    LEDGERFLOW_YAML_TOO_DEEP = 1,
    /// The aliases repeat more than `max_expansion`: `line`/`column` is the alias that passes it.
    LEDGERFLOW_YAML_ALIASES_TOO_LARGE = 2,
    /// libyaml refused the text (Yams reports the same error with its own words).
    LEDGERFLOW_YAML_SYNTAX = 3,
    LEDGERFLOW_YAML_NO_MEMORY = 4,
} ledgerflow_yaml_status;

typedef struct {
    ledgerflow_yaml_status status;
    /// 1-based; columns count Unicode scalars (as Yams' marks do).
    size_t line;
    size_t column;
    /// The alias's anchor name (cut to 63 bytes), for LEDGERFLOW_YAML_ALIASES_TOO_LARGE.
    char anchor[64];
} ledgerflow_yaml_check_result;

/// Walks the libyaml events of UTF-8 `text` (the parser Yams uses, linked from Yams' CYaml)
/// without building anything: every node's expanded size (16 per node plus a scalar's bytes) is
/// computed once, an alias adds the size of its anchor's node, so a file of nested anchors is
/// measured in time proportional to its length, before Yams expands anything (its composer
/// hashes mapping keys, aliases included, in full). Stops at the first problem.
ledgerflow_yaml_check_result ledgerflow_yaml_check(const unsigned char *text, size_t length,
                                                   size_t max_expansion, size_t max_depth);

#endif
