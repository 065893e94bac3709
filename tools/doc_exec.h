/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Interface of doc_exec.c: run a helper program with a time limit and
  capture its output.
  */

#ifndef DOC_EXEC_H
#define DOC_EXEC_H

#include <stddef.h>

/* Returns the number of output bytes (out is NUL-terminated) and sets *status
   to the exit status; -ENOENT if the program could not be run, -ETIMEDOUT if
   it was killed after timeout seconds, other -errno on failure. */
extern int DOC_RunCommand(char *const argv[], char *out, size_t len, double timeout,
                          int *status);

#endif
