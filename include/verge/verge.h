/*
 * verge: an edge-AI runtime and toolkit. Include this header for the whole
 * public API; each module also has its own header.
 */
#ifndef VERGE_VERGE_H
#define VERGE_VERGE_H

#include "verge/status.h"
#include "verge/tensor.h"
#include "verge/model.h"
#include "verge/interpreter.h"
#include "verge/image.h"
#include "verge/media.h"
#include "verge/vision.h"
#include "verge/npy.h"
#include "verge/signal.h"
#include "verge/net.h"

#endif
