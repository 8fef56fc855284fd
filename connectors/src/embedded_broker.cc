#include "reflex/connectors/embedded_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace reflex::connectors {

using engine::Status;
using engine::StatusCode;

namespace {
Status FromKafka(rd_kafka_resp_err_t err, const std::string& what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  return Status(StatusCode::kInternal, what + ": " + rd_kafka_err2str(err));
}
}  // namespace

engine::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    EmbeddedBrokerOptions options) {
  if (options.brokers < 1) return engine::InvalidArgument("embedded broker: brokers must be >= 1");
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The host handle never connects anywhere; it only owns the mock cluster's thread.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return engine::Internal(std::string("embedded broker: ") + err);
  }
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  b->handle_ = rk;
  b->cluster_ = rd_kafka_mock_cluster_new(rk, options.brokers);
  if (!b->cluster_) return engine::Internal("embedded broker: could not start the mock cluster");
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(b->cluster_);
  return b;
}

EmbeddedBroker::~EmbeddedBroker() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_) rd_kafka_destroy(handle_);
}

Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  return FromKafka(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1),
                   "create topic '" + topic + "'");
}

Status EmbeddedBroker::SetBrokerDown(int broker_id) {
  return FromKafka(rd_kafka_mock_broker_set_down(cluster_, broker_id), "broker down");
}

Status EmbeddedBroker::SetBrokerUp(int broker_id) {
  return FromKafka(rd_kafka_mock_broker_set_up(cluster_, broker_id), "broker up");
}

Status EmbeddedBroker::SetBrokerRtt(int broker_id, int rtt_ms) {
  return FromKafka(rd_kafka_mock_broker_set_rtt(cluster_, broker_id, rtt_ms), "broker rtt");
}

}  // namespace reflex::connectors
