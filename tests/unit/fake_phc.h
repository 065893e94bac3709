/*
  chrony-ptpkvm: phc_reader tests
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

  Fake PHC backend for tests, linked with -Wl,--wrap for open, close,
  ioctl, fstat and opendir (FAKE_WRAP in tests/unit/unit.mk): the code
  under test calls the syscalls as it does in chronyd, and the fake
  created last answers.  What a device answers comes from the shared
  device model (tests/model/ptpkvm_model.h, by default a NIC PHC with
  cross-timestamping whose PRECISE, EXTENDED and basic modes work) on the
  fake's virtual system clock, which advances with every reading, and a
  true offset; the script adds per-mode errnos (persistent or queued),
  queued garbage and removal.  Sysfs is a real fixture tree in a
  temporary directory: paths under /sys are looked up below it, while
  paths under /dev are the scripted devices (ENOENT for others).  Used
  by the phc_reader and doctor tests.
  */

#ifndef FAKE_PHC_H
#define FAKE_PHC_H

#include <stdint.h>

#include "phcr.h"
#include "ptpkvm_model.h"

typedef struct FAKE_Phc_Record FAKE_Phc;

#define FAKE_MAX_DEVICES 8
#define FAKE_LOG_MAX 256

/* Device numbers returned by FAKE_AddDevice are 0..FAKE_MAX_DEVICES-1. */

/* Create a fake system with its own temporary fixture root (created
   immediately, removed by FAKE_Destroy); it answers the wrapped calls
   until destroyed.  seed fixes every random draw. */
extern FAKE_Phc *FAKE_Create(uint64_t seed);
extern void FAKE_Destroy(FAKE_Phc *f);

/* The fixture root (a --root for the doctor). */
extern const char *FAKE_Root(FAKE_Phc *f);

/* Fixture tree helpers (paths relative to the root, created with parents).
   FAKE_AddSysfsPtp writes <root>/sys/class/ptp/ptpN/clock_name (with a
   trailing newline as the kernel does; clock_name NULL = no file). */
extern int FAKE_AddSysfsPtp(FAKE_Phc *f, int index, const char *clock_name);
extern int FAKE_WriteFile(FAKE_Phc *f, const char *rel_path,
                          const char *content);
extern int FAKE_MkDir(FAKE_Phc *f, const char *rel_path);

/* Add a scripted device at a path under /dev (e.g. "/dev/ptp0").  By default it is a PHC with cross_timestamping = 1 whose
   PRECISE, EXTENDED and basic modes all work, true offset 0, default
   noise.  Returns the device number or -1. */
extern int FAKE_AddDevice(FAKE_Phc *f, const char *path);
/* Another path (e.g. "/dev/ptp_kvm") opening the same device. */
extern int FAKE_AddAlias(FAKE_Phc *f, const char *path, int dev);

/* Behaviour. */
extern void FAKE_SetPhc(FAKE_Phc *f, int dev, int is_phc); /* GETCAPS ok */
extern void FAKE_SetCrossTimestamping(FAKE_Phc *f, int dev, int cap);
extern void FAKE_SetOpenErrno(FAKE_Phc *f, int dev, int err);
/* Persistent errno of every ioctl of a mode (0 = works). */
extern void FAKE_SetModeErrno(FAKE_Phc *f, int dev, PHCR_Mode mode, int err);
/* The next count ioctls of mode fail with err (before the persistent
   behaviour applies).  Entries queue up in order. */
extern void FAKE_QueueErrno(FAKE_Phc *f, int dev, PHCR_Mode mode, int err,
                            int count);
/* The next count successful ioctls of mode return garbage of kind. */
extern void FAKE_QueueGarbage(FAKE_Phc *f, int dev, PHCR_Mode mode,
                              PKM_Garbage kind, int count);
/* Device removal: open fails ENOENT, ioctls on open fds fail ENODEV. */
extern void FAKE_RemoveDevice(FAKE_Phc *f, int dev);

/* Time and offset. */
/* The fake's default: 750 ns out and back with 50 ns exponential jitter
   each, no spikes, 20 ns PRECISE noise, no timestamp noise. */
extern void FAKE_SetNoise(FAKE_Phc *f, int dev, const PKM_Noise *noise);
extern void FAKE_NoiseDefaults(PKM_Noise *noise);
extern void FAKE_SetOffset(FAKE_Phc *f, int dev, int64_t offset_ns);
extern int64_t FAKE_GetOffset(FAKE_Phc *f, int dev);

/* Observation. */
typedef struct {
  unsigned long opens, closes, open_fds;
  unsigned long getcaps;            /* PTP_CLOCK_GETCAPS ioctls */
  unsigned long ioctl_mode[PHCR_MODE_COUNT]; /* reading ioctls per mode */
  unsigned long other_ioctls;       /* any other request (e.g. *2) */
  unsigned long device_samples;     /* device readings (hypercalls) */
} FAKE_Counters;
extern void FAKE_GetCounters(FAKE_Phc *f, FAKE_Counters *c);
/* Requests of the last ioctls, oldest first; returns the number stored. */
extern int FAKE_GetIoctlLog(FAKE_Phc *f, unsigned long *requests, int max);

/* Seeded PRNG helpers, also used by tests directly. */
typedef struct { uint64_t s; } FAKE_Rng;
extern void FAKE_RngSeed(FAKE_Rng *r, uint64_t seed);
extern uint64_t FAKE_RngNext(FAKE_Rng *r);
extern double FAKE_RngUniform(FAKE_Rng *r);            /* [0, 1) */
extern double FAKE_RngNormal(FAKE_Rng *r);             /* N(0, 1) */

#endif
