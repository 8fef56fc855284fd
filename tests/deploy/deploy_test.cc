// The deployment files under deploy/ checked against each other and against the real binary,
// so a rename in one of them cannot leave the others pointing at nothing:
//   - Kubernetes (deploy/kubernetes/*.yaml, every document of every file): the selectors,
//     labels, ports, probes, annotations, volumes, mounts, ConfigMap and Secret keys tie
//     together; the ConfigMap's config and rules, laid out as the pod mounts them, are accepted
//     by `reflex run --check-config` with the environment the Deployment gives the container.
//   - The image (deploy/docker/Dockerfile): Debian 12 stages, the build through
//     deploy/setup.sh, a non-root user shared with the Deployment, and a runtime package for
//     every shared library the built binary links (objdump, ldd and dpkg -S).
//   - systemd (deploy/systemd/reflex.service): `systemd-analyze verify` prints nothing about
//     the unit, the hardening is there, and the example config with the example environment
//     file passes `reflex run --check-config`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "run_cli.h"

namespace reflex::deploy_test {
namespace {

namespace fs = std::filesystem;
using cli_test::CliResult;
using cli_test::ReadFile;
using cli_test::RunCli;
using cli_test::RunOptions;
using cli_test::RunProgram;
using cli_test::TempDir;
using ::testing::HasSubstr;

const std::string kDeploy = std::string(REFLEX_SOURCE_DIR) + "/deploy";
const std::string kKubernetes = kDeploy + "/kubernetes";

// The full path of `name` on $PATH, or "" when it is not there.
std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path p = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(p.c_str(), X_OK) == 0) return p.string();
  }
  return "";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::stringstream ss(text);
  for (std::string w; ss >> w;) words.push_back(w);
  return words;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

struct Manifest {
  std::string file;
  YAML::Node node;
};

// Every document of every *.yaml under deploy/kubernetes, kustomization.yaml apart.
class Manifests {
 public:
  Manifests() {
    for (const auto& entry : fs::directory_iterator(kKubernetes)) {
      if (entry.path().extension() != ".yaml") continue;
      const std::string file = entry.path().filename().string();
      files_.insert(file);
      for (const YAML::Node& doc : YAML::LoadAllFromFile(entry.path().string())) {
        if (!doc || doc.IsNull()) continue;
        if (file == "kustomization.yaml") {
          kustomization_ = doc;
        } else {
          docs_.push_back({file, doc});
        }
      }
    }
  }

  const std::vector<Manifest>& docs() const { return docs_; }
  const std::set<std::string>& files() const { return files_; }
  const YAML::Node& kustomization() const { return kustomization_; }

  // Whether there is an object of `kind` named `name`.
  bool Has(const std::string& kind, const std::string& name) const {
    for (const Manifest& m : docs_) {
      if (m.node["kind"].as<std::string>("") == kind &&
          m.node["metadata"]["name"].as<std::string>("") == name) {
        return true;
      }
    }
    return false;
  }
  // The one object of `kind` named `name`; a null node when there is none.
  YAML::Node Get(const std::string& kind, const std::string& name) const {
    for (const Manifest& m : docs_) {
      if (m.node["kind"].as<std::string>("") == kind &&
          m.node["metadata"]["name"].as<std::string>("") == name) {
        return m.node;
      }
    }
    return YAML::Node();
  }
  // Every object of `kind`.
  std::vector<YAML::Node> All(const std::string& kind) const {
    std::vector<YAML::Node> out;
    for (const Manifest& m : docs_) {
      if (m.node["kind"].as<std::string>("") == kind) out.push_back(m.node);
    }
    return out;
  }

 private:
  std::set<std::string> files_;
  std::vector<Manifest> docs_;
  YAML::Node kustomization_;
};

std::map<std::string, std::string> StringMap(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  if (!n || !n.IsMap()) return out;
  for (const auto& kv : n) out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  return out;
}

// The data of a ConfigMap or Secret (stringData; data is base64 and only its keys are used).
std::map<std::string, std::string> ObjectData(const YAML::Node& object) {
  std::map<std::string, std::string> out = StringMap(object["stringData"]);
  for (const auto& [k, v] : StringMap(object["data"])) out.emplace(k, v);
  return out;
}

class DeployKubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto deployments = m_.All("Deployment");
    ASSERT_EQ(deployments.size(), 1u);
    deployment_ = deployments[0];
    pod_ = deployment_["spec"]["template"]["spec"];
    ASSERT_TRUE(pod_["containers"].IsSequence());
    ASSERT_EQ(pod_["containers"].size(), 1u);
    container_ = pod_["containers"][0];
    // The container's --config file and the config it names.
    const YAML::Node args = container_["args"];
    ASSERT_TRUE(args.IsSequence()) << "the container gives `run --config FILE` as args";
    ASSERT_GE(args.size(), 3u);
    EXPECT_EQ(args[0].as<std::string>(), "run");
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      const std::string a = args[i].as<std::string>();
      if (a == "--config" || a == "-c") config_path_ = args[i + 1].as<std::string>();
    }
    ASSERT_FALSE(config_path_.empty()) << "no --config in the container's args";
    std::optional<std::string> text = MountedFile(config_path_);
    ASSERT_TRUE(text.has_value()) << config_path_ << " is not in any mounted ConfigMap";
    config_ = YAML::Load(*text);
  }

  // The container port named `name` or numbered `port`.
  int ContainerPort(const YAML::Node& port) const {
    for (const auto& p : container_["ports"]) {
      if (port.as<std::string>() == p["name"].as<std::string>("") ||
          port.as<std::string>() == p["containerPort"].as<std::string>()) {
        return p["containerPort"].as<int>();
      }
    }
    return -1;
  }

  // The volume named `name`; a null node when there is none.
  YAML::Node Volume(const std::string& name) const {
    for (const auto& v : pod_["volumes"]) {
      if (v["name"].as<std::string>() == name) return v;
    }
    return YAML::Node();
  }

  // The files a ConfigMap or Secret volume puts under its mountPath: path -> contents.
  std::map<std::string, std::string> VolumeFiles(const YAML::Node& volume) const {
    std::map<std::string, std::string> files;
    YAML::Node source;
    std::map<std::string, std::string> data;
    if (volume["configMap"]) {
      source = volume["configMap"];
      data = ObjectData(m_.Get("ConfigMap", source["name"].as<std::string>()));
    } else if (volume["secret"]) {
      source = volume["secret"];
      data = ObjectData(m_.Get("Secret", source["secretName"].as<std::string>()));
    } else {
      return files;
    }
    if (source["items"]) {
      for (const auto& item : source["items"]) {
        auto it = data.find(item["key"].as<std::string>());
        if (it != data.end()) files[item["path"].as<std::string>()] = it->second;
      }
    } else {
      files = data;
    }
    return files;
  }

  // The contents of `path` as the container sees it, from the ConfigMap or Secret mounted over
  // it; nullopt when none provides it.
  std::optional<std::string> MountedFile(const std::string& path) const {
    for (const auto& mount : container_["volumeMounts"]) {
      const std::string dir = mount["mountPath"].as<std::string>() + "/";
      if (path.compare(0, dir.size(), dir) != 0) continue;
      const auto files = VolumeFiles(Volume(mount["name"].as<std::string>()));
      auto it = files.find(path.substr(dir.size()));
      if (it != files.end()) return it->second;
    }
    return std::nullopt;
  }

  // The environment the container gets from env (literal values and keys of Secrets and
  // ConfigMaps) and envFrom (every key).
  std::map<std::string, std::string> ContainerEnv() const {
    std::map<std::string, std::string> env;
    for (const auto& from : container_["envFrom"]) {
      std::map<std::string, std::string> data;
      if (from["secretRef"]) {
        data = ObjectData(m_.Get("Secret", from["secretRef"]["name"].as<std::string>()));
      } else if (from["configMapRef"]) {
        data = ObjectData(m_.Get("ConfigMap", from["configMapRef"]["name"].as<std::string>()));
      }
      const std::string prefix = from["prefix"].as<std::string>("");
      for (const auto& [k, v] : data) env[prefix + k] = v;
    }
    for (const auto& e : container_["env"]) {
      const std::string name = e["name"].as<std::string>();
      if (e["value"]) {
        env[name] = e["value"].as<std::string>();
      } else if (e["valueFrom"]["secretKeyRef"]) {
        const YAML::Node ref = e["valueFrom"]["secretKeyRef"];
        auto data = ObjectData(m_.Get("Secret", ref["name"].as<std::string>()));
        if (data.count(ref["key"].as<std::string>()))
          env[name] = data[ref["key"].as<std::string>()];
      } else if (e["valueFrom"]["configMapKeyRef"]) {
        const YAML::Node ref = e["valueFrom"]["configMapKeyRef"];
        auto data = ObjectData(m_.Get("ConfigMap", ref["name"].as<std::string>()));
        if (data.count(ref["key"].as<std::string>()))
          env[name] = data[ref["key"].as<std::string>()];
      } else {
        env[name] = "";  // fieldRef, resourceFieldRef: set by the kubelet
      }
    }
    return env;
  }

  Manifests m_;
  YAML::Node deployment_, pod_, container_, config_;
  std::string config_path_;
};

TEST_F(DeployKubernetesTest, EveryManifestIsNamedNamespacedAndListedInTheKustomization) {
  std::set<std::string> listed;
  ASSERT_TRUE(m_.kustomization()["resources"].IsSequence());
  for (const auto& r : m_.kustomization()["resources"]) listed.insert(r.as<std::string>());
  std::set<std::string> manifests = m_.files();
  manifests.erase("kustomization.yaml");
  EXPECT_EQ(listed, manifests) << "kustomization.yaml lists every manifest of the directory";

  const auto namespaces = m_.All("Namespace");
  ASSERT_EQ(namespaces.size(), 1u);
  const std::string ns = namespaces[0]["metadata"]["name"].as<std::string>();
  for (const Manifest& m : m_.docs()) {
    const std::string what = m.file + ": " + m.node["kind"].as<std::string>("?");
    EXPECT_TRUE(m.node["apiVersion"].IsScalar()) << what;
    EXPECT_TRUE(m.node["metadata"]["name"].IsScalar()) << what;
    EXPECT_EQ(m.node["metadata"]["labels"]["app.kubernetes.io/name"].as<std::string>(""), "reflex")
        << what;
    if (m.node["kind"].as<std::string>() != "Namespace") {
      EXPECT_EQ(m.node["metadata"]["namespace"].as<std::string>(""), ns) << what;
    }
  }
}

TEST_F(DeployKubernetesTest, SelectorsTieTheDeploymentServiceAndDisruptionBudget) {
  const auto selector = StringMap(deployment_["spec"]["selector"]["matchLabels"]);
  ASSERT_FALSE(selector.empty());
  const auto pod_labels = StringMap(deployment_["spec"]["template"]["metadata"]["labels"]);
  for (const auto& [k, v] : selector) {
    EXPECT_EQ(pod_labels.count(k) ? pod_labels.at(k) : "<missing>", v) << "pod label " << k;
  }
  const auto services = m_.All("Service");
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(StringMap(services[0]["spec"]["selector"]), selector);

  const auto budgets = m_.All("PodDisruptionBudget");
  ASSERT_EQ(budgets.size(), 1u);
  const YAML::Node pdb = budgets[0]["spec"];
  EXPECT_EQ(StringMap(pdb["selector"]["matchLabels"]), selector);
  const int replicas = deployment_["spec"]["replicas"].as<int>();
  EXPECT_GE(replicas, 2) << "a disruption budget needs more than one replica";
  ASSERT_TRUE(pdb["maxUnavailable"] || pdb["minAvailable"]);
  if (pdb["maxUnavailable"]) {
    EXPECT_GE(pdb["maxUnavailable"].as<int>(), 1);
    EXPECT_LT(pdb["maxUnavailable"].as<int>(), replicas);
  } else {
    EXPECT_LT(pdb["minAvailable"].as<int>(), replicas) << "else no node could ever be drained";
  }
}

TEST_F(DeployKubernetesTest, ReplicasShareOneConsumerGroupOnARealCluster) {
  EXPECT_GE(deployment_["spec"]["replicas"].as<int>(), 2);
  // Without brokers each pod would start its own embedded broker.
  EXPECT_FALSE(config_["kafka"]["brokers"].as<std::string>("").empty());
  EXPECT_FALSE(config_["kafka"]["group_id"].as<std::string>("").empty());
  // One transactional_id for every replica of a Deployment would fence them off each other.
  EXPECT_FALSE(config_["kafka"]["exactly_once"].as<bool>(false));
  // SIGTERM: the shutdown waits up to processing.shutdown_timeout_ms before the commit.
  const int shutdown_ms = config_["processing"]["shutdown_timeout_ms"].as<int>(30000);
  EXPECT_GT(pod_["terminationGracePeriodSeconds"].as<int>(30) * 1000, shutdown_ms);
}

TEST_F(DeployKubernetesTest, PortsProbesServiceAndScrapeAnnotationsAgree) {
  // The port reflex listens on (http.listen of the mounted config), on every interface.
  const std::string listen = config_["http"]["listen"].as<std::string>("");
  const size_t colon = listen.rfind(':');
  ASSERT_NE(colon, std::string::npos) << listen;
  EXPECT_EQ(listen.substr(0, colon), "0.0.0.0") << "the kubelet probes the pod's address";
  const int port = std::stoi(listen.substr(colon + 1));

  ASSERT_TRUE(container_["ports"].IsSequence());
  ASSERT_EQ(container_["ports"].size(), 1u);
  EXPECT_EQ(container_["ports"][0]["containerPort"].as<int>(), port);

  struct Probe {
    const char* name;
    const char* path;
  };
  for (const Probe& p : {Probe{"livenessProbe", "/healthz"}, Probe{"readinessProbe", "/readyz"},
                         Probe{"startupProbe", "/healthz"}}) {
    const YAML::Node probe = container_[p.name]["httpGet"];
    ASSERT_TRUE(probe) << p.name;
    EXPECT_EQ(probe["path"].as<std::string>(), p.path) << p.name;
    EXPECT_EQ(ContainerPort(probe["port"]), port) << p.name;
  }

  const YAML::Node service = m_.All("Service")[0];
  ASSERT_EQ(service["spec"]["ports"].size(), 1u);
  EXPECT_EQ(ContainerPort(service["spec"]["ports"][0]["targetPort"]), port);

  const auto annotations = StringMap(deployment_["spec"]["template"]["metadata"]["annotations"]);
  EXPECT_EQ(annotations.count("prometheus.io/scrape") ? annotations.at("prometheus.io/scrape") : "",
            "true");
  EXPECT_EQ(annotations.count("prometheus.io/port") ? annotations.at("prometheus.io/port") : "",
            std::to_string(port));
  EXPECT_EQ(annotations.count("prometheus.io/path") ? annotations.at("prometheus.io/path") : "",
            "/metrics");
}

TEST_F(DeployKubernetesTest, MountsVolumesAndReferencedKeysExist) {
  std::set<std::string> volumes, mount_paths;
  for (const auto& v : pod_["volumes"]) volumes.insert(v["name"].as<std::string>());
  for (const auto& mount : container_["volumeMounts"]) {
    const std::string name = mount["name"].as<std::string>();
    EXPECT_TRUE(volumes.count(name)) << "volumeMount " << name << " names no volume";
    EXPECT_TRUE(mount_paths.insert(mount["mountPath"].as<std::string>()).second)
        << "two mounts at " << mount["mountPath"];
  }
  for (const auto& v : pod_["volumes"]) {
    const std::string name = v["name"].as<std::string>();
    YAML::Node source, object;
    if (v["configMap"]) {
      source = v["configMap"];
      object = m_.Get("ConfigMap", source["name"].as<std::string>());
      EXPECT_TRUE(m_.Has("ConfigMap", source["name"].as<std::string>()))
          << "volume " << name << ": no ConfigMap " << source["name"];
    } else if (v["secret"]) {
      source = v["secret"];
      object = m_.Get("Secret", source["secretName"].as<std::string>());
      EXPECT_TRUE(m_.Has("Secret", source["secretName"].as<std::string>()))
          << "volume " << name << ": no Secret " << source["secretName"];
    } else {
      continue;
    }
    if (!source["items"]) continue;
    // A key missing from the items would be a table that is never mounted.
    std::set<std::string> projected;
    const auto data = ObjectData(object);
    for (const auto& item : source["items"]) {
      const std::string key = item["key"].as<std::string>();
      EXPECT_TRUE(data.count(key)) << "volume " << name << ": no key " << key;
      projected.insert(key);
    }
    for (const auto& [key, value] : data) {
      EXPECT_TRUE(projected.count(key)) << "volume " << name << " does not mount key " << key;
    }
  }
  for (const auto& from : container_["envFrom"]) {
    if (from["secretRef"]) {
      EXPECT_TRUE(m_.Has("Secret", from["secretRef"]["name"].as<std::string>()))
          << "envFrom: no Secret " << from["secretRef"]["name"];
    }
    if (from["configMapRef"]) {
      EXPECT_TRUE(m_.Has("ConfigMap", from["configMapRef"]["name"].as<std::string>()))
          << "envFrom: no ConfigMap " << from["configMapRef"]["name"];
    }
  }
  for (const auto& e : container_["env"]) {
    if (!e["valueFrom"]) continue;
    for (const char* kind : {"secretKeyRef", "configMapKeyRef"}) {
      const YAML::Node ref = e["valueFrom"][kind];
      if (!ref) continue;
      const YAML::Node object = m_.Get(std::string(kind) == "secretKeyRef" ? "Secret" : "ConfigMap",
                                       ref["name"].as<std::string>());
      ASSERT_TRUE(m_.Has(std::string(kind) == "secretKeyRef" ? "Secret" : "ConfigMap",
                         ref["name"].as<std::string>()))
          << e["name"] << ": no " << ref["name"];
      EXPECT_TRUE(ObjectData(object).count(ref["key"].as<std::string>()))
          << e["name"] << ": no key " << ref["key"];
    }
  }
}

TEST_F(DeployKubernetesTest, ConfigPathsAreMountsAndTheRootFilesystemIsReadOnly) {
  std::map<std::string, YAML::Node> mounts;  // mountPath -> mount
  for (const auto& mount : container_["volumeMounts"]) {
    mounts.emplace(mount["mountPath"].as<std::string>(), YAML::Node(mount));
  }
  const std::string rules = config_["rules"].as<std::string>("");
  ASSERT_TRUE(mounts.count(rules)) << "rules: " << rules << " is not a mount";
  EXPECT_TRUE(Volume(mounts[rules]["name"].as<std::string>())["configMap"]);
  const auto rule_files = VolumeFiles(Volume(mounts[rules]["name"].as<std::string>()));
  EXPECT_TRUE(rule_files.count("actions.yaml"));
  int tables = 0;
  for (const auto& [path, contents] : rule_files) tables += path.rfind("tables/", 0) == 0;
  EXPECT_GT(tables, 0) << "no tables/ in the rules mount";

  const std::string state = config_["state_dir"].as<std::string>("");
  ASSERT_TRUE(mounts.count(state)) << "state_dir: " << state << " is not a mount";
  EXPECT_FALSE(mounts[state]["readOnly"].as<bool>(false));
  const YAML::Node state_volume = Volume(mounts[state]["name"].as<std::string>());
  EXPECT_TRUE(state_volume["emptyDir"] || state_volume["persistentVolumeClaim"]);

  EXPECT_TRUE(container_["securityContext"]["readOnlyRootFilesystem"].as<bool>(false));
  EXPECT_FALSE(container_["securityContext"]["allowPrivilegeEscalation"].as<bool>(true));
  EXPECT_TRUE(pod_["securityContext"]["runAsNonRoot"].as<bool>(false));
  EXPECT_NE(pod_["securityContext"]["runAsUser"].as<int>(0), 0);
}

// Every `*_env` key anywhere in `n`: the environment variable names it gives.
void CollectEnvNames(const YAML::Node& n, std::set<std::string>* names) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      if (key.size() > 4 && key.compare(key.size() - 4, 4, "_env") == 0 && kv.second.IsScalar()) {
        names->insert(kv.second.as<std::string>());
      } else {
        CollectEnvNames(kv.second, names);
      }
    }
  } else if (n.IsSequence()) {
    for (const auto& item : n) CollectEnvNames(item, names);
  }
}

TEST_F(DeployKubernetesTest, EveryVariableAnEnvKeyNamesIsGivenToTheContainer) {
  std::set<std::string> names;
  CollectEnvNames(config_, &names);
  // The rules' actions.yaml reads its tokens at send time: the container needs them too.
  const std::string rules = config_["rules"].as<std::string>("");
  std::optional<std::string> actions = MountedFile(rules + "/actions.yaml");
  ASSERT_TRUE(actions.has_value());
  CollectEnvNames(YAML::Load(*actions), &names);
  ASSERT_FALSE(names.empty());
  const auto env = ContainerEnv();
  for (const std::string& name : names) {
    EXPECT_TRUE(env.count(name) && !env.at(name).empty()) << name << " is not given";
  }
}

TEST_F(DeployKubernetesTest, TheBinaryAcceptsTheConfigAndRulesAsMounted) {
  // The ConfigMap and Secret volumes written out under a temporary root, as the pod sees them.
  TempDir root;
  for (const auto& mount : container_["volumeMounts"]) {
    for (const auto& [path, contents] : VolumeFiles(Volume(mount["name"].as<std::string>()))) {
      root.Write(mount["mountPath"].as<std::string>().substr(1) + "/" + path, contents);
    }
  }
  // Only the container's environment: unset what this process has of the names involved.
  RunOptions options;
  std::set<std::string> names;
  CollectEnvNames(config_, &names);
  for (const std::string& name : names) options.env.push_back(name);
  for (const char* name : {"REFLEX_RULES", "REFLEX_STATE_DIR", "REFLEX_KAFKA_BROKERS",
                           "REFLEX_HTTP_LISTEN", "REFLEX_HTTP_TOKEN", "REFLEX_HTTP_HMAC_SECRET"}) {
    options.env.push_back(name);
  }
  for (const auto& [name, value] : ContainerEnv()) options.env.push_back(name + "=" + value);

  const CliResult r = RunCli({"run", "--config", root.path() + config_path_, "--rules",
                              root.path() + config_["rules"].as<std::string>(), "--state-dir",
                              root.File("state"), "--check-config"},
                             options);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("config OK"));
  EXPECT_THAT(r.out, HasSubstr("0 not verified"));
  EXPECT_THAT(r.out, HasSubstr(config_["kafka"]["brokers"].as<std::string>()));
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

struct Instruction {
  std::string op;    // FROM, RUN, ... (upper case)
  std::string args;  // the rest, continuation lines joined
};
struct Stage {
  std::string image, name;
  std::vector<Instruction> instructions;
};

// The Dockerfile's stages: comments dropped, `\` continuations joined.
std::vector<Stage> ReadDockerfile(const std::string& path) {
  std::vector<Stage> stages;
  std::string pending;
  auto flush = [&stages](const std::string& line) {
    const auto words = Words(line);
    if (words.empty()) return;
    std::string op = words[0];
    for (char& c : op) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string args = line.substr(line.find(words[0]) + words[0].size());
    if (op == "FROM") {
      Stage s;
      const auto w = Words(args);
      size_t i = 0;
      while (i < w.size() && w[i].rfind("--", 0) == 0) ++i;  // --platform=...
      if (i < w.size()) s.image = w[i];
      if (i + 2 < w.size()) s.name = w[i + 2];  // FROM image AS name
      stages.push_back(s);
    }
    if (!stages.empty()) stages.back().instructions.push_back({op, args});
  };
  for (std::string line : Lines(ReadFile(path))) {
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    if (!line.empty() && line.back() == '\\') {
      line.pop_back();
      pending += line + " ";
      continue;
    }
    flush(pending + line);
    pending.clear();
  }
  flush(pending);
  return stages;
}

// The packages `apt-get install` names in a stage's RUN instructions.
std::set<std::string> InstalledPackages(const Stage& stage) {
  std::set<std::string> packages;
  for (const Instruction& in : stage.instructions) {
    if (in.op != "RUN") continue;
    const auto w = Words(in.args);
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      if (w[i] != "apt-get" || w[i + 1] != "install") continue;
      for (size_t j = i + 2; j < w.size() && w[j] != "&&" && w[j] != ";"; ++j) {
        if (w[j].rfind("-", 0) != 0) packages.insert(w[j]);
      }
    }
  }
  return packages;
}

class DeployDockerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stages_ = ReadDockerfile(kDeploy + "/docker/Dockerfile");
    ASSERT_GE(stages_.size(), 2u) << "a build stage and a runtime stage";
  }
  std::vector<Stage> stages_;
};

TEST_F(DeployDockerTest, BuildsWithTheSetupScriptInDebian12Stages) {
  for (const Stage& s : stages_) {
    EXPECT_THAT(s.image, ::testing::AnyOf("debian:12", "debian:12-slim", "debian:bookworm",
                                          "debian:bookworm-slim"));
  }
  const Stage& build = stages_.front();
  ASSERT_FALSE(build.name.empty()) << "the build stage is named, for COPY --from";
  bool setup = false, cmake_build = false;
  for (const Instruction& in : build.instructions) {
    if (in.op == "RUN" && in.args.find("deploy/setup.sh") != std::string::npos) setup = true;
    if (in.op == "RUN" && in.args.find("cmake --build") != std::string::npos &&
        in.args.find("reflex") != std::string::npos) {
      cmake_build = true;
    }
  }
  EXPECT_TRUE(setup) << "the build stage runs deploy/setup.sh";
  EXPECT_TRUE(cmake_build) << "the build stage builds the reflex target";

  bool copies_binary = false;
  for (const Instruction& in : stages_.back().instructions) {
    if (in.op == "COPY" && in.args.find("--from=" + build.name) != std::string::npos &&
        in.args.find("/cli/reflex") != std::string::npos) {
      copies_binary = true;
    }
  }
  EXPECT_TRUE(copies_binary) << "the runtime stage copies the binary from the build stage";

  // The build context leaves out build trees and version control.
  const std::string ignore = ReadFile(std::string(REFLEX_SOURCE_DIR) + "/.dockerignore");
  EXPECT_THAT(Lines(ignore), ::testing::IsSupersetOf({".git", "build", "build-*"}));
}

TEST_F(DeployDockerTest, RunsAsTheNonRootUserAndPortTheDeploymentExpects) {
  std::string user, expose;
  for (const Instruction& in : stages_.back().instructions) {
    if (in.op == "USER") user = Words(in.args).at(0);
    if (in.op == "EXPOSE") expose = Words(in.args).at(0);
  }
  ASSERT_FALSE(user.empty()) << "the runtime stage sets USER";
  const std::string uid = user.substr(0, user.find(':'));
  EXPECT_NE(uid, "root");
  EXPECT_NE(uid, "0");
  // Numeric, so runAsNonRoot can check it; the Deployment runs as the same uid.
  Manifests m;
  const YAML::Node pod = m.All("Deployment").at(0)["spec"]["template"]["spec"];
  EXPECT_EQ(uid, pod["securityContext"]["runAsUser"].as<std::string>(""));
  EXPECT_EQ(expose, pod["containers"][0]["ports"][0]["containerPort"].as<std::string>(""));
}

TEST_F(DeployDockerTest, RuntimeStageInstallsAPackageForEveryLinkedLibrary) {
  const std::string binary = std::string(REFLEX_BINARY_DIR) + "/cli/reflex";
  const std::string objdump = FindProgram("objdump"), ldd = FindProgram("ldd"),
                    dpkg = FindProgram("dpkg");
  ASSERT_FALSE(objdump.empty() || ldd.empty() || dpkg.empty()) << "objdump, ldd and dpkg";
  const CliResult needed = RunProgram(objdump, {"-p", binary});
  ASSERT_EQ(needed.exit_code, 0) << needed.Describe();
  const CliResult resolved = RunProgram(ldd, {binary});
  ASSERT_EQ(resolved.exit_code, 0) << resolved.Describe();
  std::map<std::string, std::string> paths;  // soname -> path, as the loader finds it
  for (const std::string& line : Lines(resolved.out)) {
    const auto w = Words(line);
    if (w.size() >= 3 && w[1] == "=>") paths[w[0]] = w[2];
  }

  const std::set<std::string> installed = InstalledPackages(stages_.back());
  int libraries = 0;
  for (const std::string& line : Lines(needed.out)) {
    const auto w = Words(line);
    if (w.size() != 2 || w[0] != "NEEDED") continue;
    const std::string soname = w[1];
    // The sanitizer passes test a binary built with their runtimes; the image builds the
    // release preset, which links none.
    if (soname.rfind("libasan.", 0) == 0 || soname.rfind("libubsan.", 0) == 0 ||
        soname.rfind("libtsan.", 0) == 0) {
      continue;
    }
    ++libraries;
    ASSERT_TRUE(paths.count(soname)) << soname << " not resolved by ldd";
    // dpkg knows a file by the path its package installed: with merged /usr, /lib/x or
    // /usr/lib/x, the name itself or the file its symlink points to.
    std::vector<std::string> candidates;
    for (const std::string& p : {paths[soname], fs::canonical(paths[soname]).string()}) {
      candidates.push_back(p);
      if (p.rfind("/usr/", 0) == 0) {
        candidates.push_back(p.substr(4));
      } else {
        candidates.push_back("/usr" + p);
      }
    }
    std::string package;
    for (const std::string& c : candidates) {
      const CliResult owner = RunProgram(dpkg, {"-S", c});
      if (owner.exit_code != 0) continue;
      package = owner.out.substr(0, owner.out.find(':'));
      break;
    }
    ASSERT_FALSE(package.empty()) << "dpkg -S finds no package for " << paths[soname];
    EXPECT_TRUE(installed.count(package))
        << soname << " comes with " << package << ", which the runtime stage does not install";
  }
  EXPECT_GT(libraries, 5);
}

// ---------------------------------------------------------------------------------------------
// systemd

// The unit's settings: key -> values in order (a key may be given more than once).
std::map<std::string, std::vector<std::string>> ReadUnit(const std::string& path) {
  std::map<std::string, std::vector<std::string>> unit;
  for (const std::string& line : Lines(ReadFile(path))) {
    if (line.empty() || line[0] == '#' || line[0] == ';' || line[0] == '[') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    unit[line.substr(0, eq)].push_back(line.substr(eq + 1));
  }
  return unit;
}

std::string One(const std::map<std::string, std::vector<std::string>>& unit,
                const std::string& key) {
  auto it = unit.find(key);
  return it == unit.end() || it->second.empty() ? "<unset>" : it->second.back();
}

const std::string kUnit = kDeploy + "/systemd/reflex.service";

TEST(DeploySystemdTest, SystemdAnalyzeVerifyFindsNothingInTheUnit) {
  const std::string analyze = FindProgram("systemd-analyze");
  if (analyze.empty()) {
    const char* ci = std::getenv("CI");
    if (ci == nullptr || std::string(ci) != "true") {
      GTEST_SKIP() << "systemd-analyze is missing (bash deploy/setup.sh --tests installs it)";
    }
    FAIL() << "systemd-analyze is missing; in CI the unit must be verified";
  }
  // The unit as shipped, but starting the binary just built (verify checks that it exists).
  std::string unit = ReadFile(kUnit);
  const std::string exec = "ExecStart=/usr/local/bin/reflex ";
  const size_t at = unit.find(exec);
  ASSERT_NE(at, std::string::npos) << "ExecStart runs /usr/local/bin/reflex";
  unit.replace(at, exec.size(), "ExecStart=" + std::string(REFLEX_BINARY_DIR) + "/cli/reflex ");
  TempDir dir;
  const std::string path = dir.Write("reflex.service", unit);
  const CliResult r = RunProgram(analyze, {"verify", path});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  for (const std::string& line : Lines(r.out + r.err)) {
    EXPECT_THAT(line, ::testing::Not(HasSubstr("reflex.service"))) << r.Describe();
  }
}

TEST(DeploySystemdTest, UnitIsHardenedAndTiedToTheExampleConfig) {
  const auto unit = ReadUnit(kUnit);
  // The engine with the example config, installed as /etc/reflex/reflex.yaml.
  EXPECT_EQ(One(unit, "ExecStart"), "/usr/local/bin/reflex run --config /etc/reflex/reflex.yaml");
  // reflex run reloads its rules on SIGHUP (app/src/app.cc).
  EXPECT_THAT(One(unit, "ExecReload"), HasSubstr("-HUP $MAINPID"));
  EXPECT_EQ(One(unit, "Restart"), "on-failure");

  // A dedicated user, the one reflex.sysusers.conf creates.
  const std::string user = One(unit, "User");
  EXPECT_NE(user, "root");
  const std::string sysusers = ReadFile(kDeploy + "/systemd/reflex.sysusers.conf");
  bool created = false;
  for (const std::string& line : Lines(sysusers)) {
    const auto w = Words(line);
    if (w.size() >= 2 && w[0] == "u" && w[1] == user) created = true;
  }
  EXPECT_TRUE(created) << "reflex.sysusers.conf creates " << user;

  for (const auto& [key, value] : std::map<std::string, std::string>{
           {"ProtectSystem", "strict"},
           {"ProtectHome", "yes"},
           {"PrivateTmp", "yes"},
           {"NoNewPrivileges", "yes"},
           {"CapabilityBoundingSet", ""},
           {"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
           {"StateDirectory", "reflex"},
       }) {
    EXPECT_EQ(One(unit, key), value) << key;
  }
  ASSERT_TRUE(unit.count("SystemCallFilter"));
  EXPECT_EQ(unit.at("SystemCallFilter").front(), "@system-service");

  // The config keeps its state in the unit's StateDirectory, and the unit gives the shutdown
  // (processing.shutdown_timeout_ms) time to finish before SIGKILL.
  const YAML::Node config = YAML::LoadFile(kDeploy + "/reflex.yaml");
  EXPECT_EQ(config["state_dir"].as<std::string>(""), "/var/lib/" + One(unit, "StateDirectory"));
  const std::string stop = One(unit, "TimeoutStopSec");
  ASSERT_FALSE(stop.empty());
  ASSERT_EQ(stop.back(), 's') << "TimeoutStopSec in seconds, e.g. 45s";
  EXPECT_GT(std::stoi(stop) * 1000, config["processing"]["shutdown_timeout_ms"].as<int>(30000));
}

TEST(DeploySystemdTest, ExampleConfigPassesWithTheExampleEnvironmentFile) {
  const auto unit = ReadUnit(kUnit);
  EXPECT_EQ(One(unit, "EnvironmentFile"), "/etc/reflex/reflex.env");
  // The example environment file, as systemd would set it.
  RunOptions options;
  std::set<std::string> given;
  for (const std::string& line : Lines(ReadFile(kDeploy + "/systemd/reflex.env.example"))) {
    if (line.empty() || line[0] == '#') continue;
    options.env.push_back(line);
    given.insert(line.substr(0, line.find('=')));
  }
  const YAML::Node config = YAML::LoadFile(kDeploy + "/reflex.yaml");
  std::set<std::string> names;
  CollectEnvNames(config, &names);
  ASSERT_FALSE(names.empty());
  for (const std::string& name : names) EXPECT_TRUE(given.count(name)) << name;
  for (const char* name : {"REFLEX_RULES", "REFLEX_STATE_DIR", "REFLEX_KAFKA_BROKERS",
                           "REFLEX_HTTP_LISTEN", "REFLEX_HTTP_TOKEN", "REFLEX_HTTP_HMAC_SECRET"}) {
    if (!given.count(name)) options.env.push_back(name);
  }
  // The bundled rules stand in for /etc/reflex/rules.
  TempDir state;
  const CliResult r = RunCli({"run", "--config", kDeploy + "/reflex.yaml", "--rules",
                              std::string(REFLEX_SOURCE_DIR) + "/rules/examples", "--state-dir",
                              state.path(), "--check-config"},
                             options);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("config OK"));
}

}  // namespace
}  // namespace reflex::deploy_test
