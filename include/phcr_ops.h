/*
  chrony-ptpkvm: phc_reader
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  This program is distributed in the hope that it will be useful, but
  WITHOUT ANY WARRANTY; without even the implied warranty of
  MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
  General Public License for more details.

  SPDX-License-Identifier: GPL-2.0-only

  =======================================================================

  Device operations table of phc_reader: the seam between the library and
  the system.  Every access to /dev and /sys goes through a PHCR_Ops table
  (default: real syscalls, limited to open/read/close/ioctl/fstat and
  opendir/readdir/closedir, which chronyd's seccomp filter allows and the
  guest simulator intercepts).  Tests substitute a scripted fake device
  and point the root-dir prefix of a PHCR_Env at a fixture tree.
  */

#ifndef PHCR_OPS_H
#define PHCR_OPS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Called by list_dir for each entry except "." and "..".  Return non-zero
   to stop the listing. */
typedef int (*PHCR_ListDirCallback)(const char *name, void *arg);

typedef struct PHCR_Ops {
  /* Like open(2); return fd or -1 with errno set. */
  int (*open)(void *ctx, const char *path, int flags);
  /* Like close(2). */
  int (*close)(void *ctx, int fd);
  /* Like ioctl(2) with a pointer argument; -1 with errno on failure. */
  int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
  /* Read at most len - 1 bytes of a (sysfs) file into buf and terminate it
     with NUL; return the number of bytes read or -1 with errno. */
  ssize_t (*read_file)(void *ctx, const char *path, char *buf, size_t len);
  /* Call cb for each entry of a directory (order unspecified); return 0,
     or -1 with errno if the directory cannot be read. */
  int (*list_dir)(void *ctx, const char *path, PHCR_ListDirCallback cb,
                  void *arg);
  /* Like fstat(2).  May be NULL (then the character-device check done at
     open is skipped). */
  int (*fstat)(void *ctx, int fd, struct stat *st);
  /* Passed as the first argument of every operation. */
  void *ctx;
} PHCR_Ops;

/* Real syscalls (ctx unused). */
extern const PHCR_Ops PHCR_DefaultOps;

#define PHCR_ROOT_MAX 256

/* Where and how the library touches the system. */
typedef struct {
  const PHCR_Ops *ops;  /* NULL means &PHCR_DefaultOps */
  const char *root;     /* NULL or "" means "/"; prefixed to every absolute
                           path (/sys/class/ptp, /dev/...) before it is
                           passed to ops; paths reported to the caller are
                           always without the prefix */
} PHCR_Env;

#endif
