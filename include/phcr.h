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

  Umbrella header of phc_reader, the library that reads a PTP hardware
  clock (ptp_kvm in particular) reliably: discovery, reading modes with
  fallback and re-probe, error classes, validation and filtering.  Include
  this one header to use the whole API; each header it includes declares
  what the .c file of the same name defines.
  */

#ifndef PHCR_H
#define PHCR_H

#include "phcr_error.h"
#include "phcr_ops.h"
#include "phcr_device.h"
#include "phcr_reader.h"

#endif
