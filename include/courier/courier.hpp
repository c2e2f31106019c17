#pragma once

// The umbrella header: everything an application needs.

#include "courier/actor.hpp"
#include "courier/actor_ref.hpp"
#include "courier/ask.hpp"
#include "courier/behavior.hpp"
#include "courier/error.hpp"
#include "courier/message.hpp"
#include "courier/metrics.hpp"
#include "courier/poll.hpp"
#include "courier/prometheus_writer.hpp"
#include "courier/pubsub.hpp"
#include "courier/subject.hpp"
#include "courier/system.hpp"
#include "courier/timer.hpp"
#include "courier/version.hpp"
