"""The Python module against the command line: the same runs, the same bits, the same messages.

Run by ctest (tests/CMakeLists.txt) as
    /usr/bin/python3 tests/python/test_module.py BINARY [TestCase.test_name ...]
with build/python on PYTHONPATH. Every test works in a fresh temporary folder.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import counterstream as cs

BINARY = None
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MOTIF = os.path.join(SOURCE, "models", "motifs", "dfa.yaml")


def document(**protocol):
    """A small DFA run on the teacher task (discrete), as a dict."""
    p = {"epochs": 2, "batch_size": 32, "seed": 3, "shuffle": False,
         "dataset": {"name": "teacher", "teacher": {"train": 512, "test": 256}}}
    p.update(protocol)
    return {"circuit": {"motif": MOTIF, "sizes": [20, 24, 16, 4], "loss": "cross_entropy"}, "protocol": p}


def cli(*args):
    return subprocess.run([BINARY, *args], capture_output=True, text=True)


class Folder(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="counterstream-py-")
        self.old = os.getcwd()
        os.chdir(self.dir)

    def tearDown(self):
        os.chdir(self.old)
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, doc):
        import yaml
        with open(name, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        return name


class Running(Folder):
    def test_run_from_a_dict_with_set(self):
        rec = cs.run(document(), set={"protocol.epochs": 3, "circuit.eta_scale": 0.5}, output="a.h5", threads=1)
        self.assertEqual(rec.format, "counterstream-run")
        m = rec.metrics
        self.assertEqual(list(m["epoch"]), [1, 2, 3])
        self.assertEqual(list(m.index), [16, 32, 48])  # 512 samples / 32 per step
        self.assertEqual(rec.config["circuit"]["eta_scale"], 0.5)
        self.assertEqual(rec.config["protocol"]["epochs"], 3)
        # The epochs returned are the rows recorded.
        self.assertEqual([e["test_accuracy"] for e in rec.outcome["epochs"]], list(m["test_accuracy"]))
        self.assertLess(m["train_loss"].iloc[-1], m["train_loss"].iloc[0])

    def test_the_same_run_as_the_command_line(self):
        path = self.write("doc.yaml", document())
        self.assertEqual(cli("run", path, "-o", "cli.h5", "--threads", "1").returncode, 0)
        rec = cs.run(path, output="py.h5", threads=1)
        for g in ("up1", "up2", "B2"):
            self.assertTrue(np.array_equal(rec.weights(g, as_xarray=False)[0],
                                           cs.open("cli.h5").weights(g, as_xarray=False)[0]), g)

    def test_a_bad_document_raises_the_command_lines_message(self):
        doc = document()
        doc["circuit"]["populations"] = {"pyr": {"activaton": "tanh"}}
        path = self.write("bad.yaml", doc)
        r = cli("run", path, "-o", "x.h5")
        self.assertEqual(r.returncode, 2)
        with self.assertRaises(cs.InputError) as e:
            cs.run(path, output="y.h5")
        self.assertEqual("error: " + str(e.exception), r.stderr.strip())
        self.assertIn("bad.yaml:", str(e.exception))
        self.assertIn("unknown key 'activaton' (did you mean 'activation'?)", str(e.exception))
        self.assertFalse(os.path.exists("y.h5"))
        # A dict gives the same line, located in its YAML text.
        with self.assertRaises(cs.InputError) as e:
            cs.run(doc, output="z.h5")
        self.assertIn("circuit.populations.pyr.activaton: unknown key 'activaton'", str(e.exception))

    def test_an_existing_output_is_kept_unless_overwrite(self):
        cs.run(document(epochs=1), output="a.h5", threads=1)
        with self.assertRaises(cs.InputError) as e:
            cs.run(document(epochs=1), output="a.h5")
        self.assertIn("(pass overwrite=True to replace it)", str(e.exception))
        cs.run(document(epochs=1), output="a.h5", overwrite=True, threads=1)

    def test_progress_callback_sees_every_epoch(self):
        seen = []
        cs.run(document(epochs=3), output="p.h5", threads=1, progress=seen.append)
        finished = [u["finished"]["epoch"] for u in seen if u["finished"] is not None]
        self.assertEqual(finished, [1, 2, 3])
        self.assertTrue(all(0 <= u["done"] <= u["total"] for u in seen))

    def test_interrupted_from_python_and_resumed_bitwise(self):
        whole = cs.run(document(epochs=3), output="whole.h5", threads=1)

        def stop_after_first_epoch(u):
            if u["finished"] is not None and u["finished"]["epoch"] == 1:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in a notebook does

        with self.assertRaises(KeyboardInterrupt) as e:
            cs.run(document(epochs=3), output="cut.h5", threads=1, progress=stop_after_first_epoch)
        self.assertIn("counterstream.resume('cut.h5')", str(e.exception))
        self.assertEqual(len(cs.open("cut.h5").metrics), 1)
        rec = cs.resume("cut.h5", threads=1)
        self.assertEqual(list(rec.metrics["test_accuracy"]), list(whole.metrics["test_accuracy"]))
        for g in ("up1", "up2", "up3"):
            a = rec.weights(g, as_xarray=False)[0][-1]
            b = whole.weights(g, as_xarray=False)[0][-1]
            self.assertTrue(np.array_equal(a, b), g)
        # Python's own SIGINT handling is back.
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)


class Stepping(Folder):
    def test_step_gives_the_command_lines_weights_bit_for_bit(self):
        doc = document(epochs=1, max_steps=12)
        doc["protocol"]["record"] = {"weights_every": 12}
        path = self.write("doc.yaml", doc)
        self.assertEqual(cli("run", path, "-o", "cli.h5", "--threads", "1").returncode, 0)
        data = cs.dataset(path)
        x, y = data["train"]
        self.assertEqual(x.shape, (512, 20))
        sim = cs.Simulation(path, threads=1)
        for k in range(12):
            sim.step(x[32 * k:32 * (k + 1)], y[32 * k:32 * (k + 1)])
        rec = cs.open("cli.h5")
        for g in ("up1", "up2", "up3", "B2", "B3"):
            snapshots, steps = rec.weights(g, as_xarray=False)
            self.assertEqual(steps[-1], 12)
            self.assertTrue(np.array_equal(sim.weights(g), snapshots[-1]), g)

    def test_views_are_the_engines_buffers(self):
        sim = cs.Simulation(document(), batch=8)
        x = np.random.default_rng(1).normal(size=(8, 20)).astype(np.float32)
        labels = np.arange(8) % 4
        sim.present(x, labels)
        h2 = sim.rates("pyr2")
        self.assertEqual(h2.shape, (8, 24))
        w = sim.weights("up1")
        self.assertEqual(w.shape, (24, 20))
        # the forward pass, by hand: pyr2 = relu(up1 x)
        self.assertTrue(np.allclose(h2, np.maximum(x @ w.T, 0), atol=1e-5))
        # DFA: pyr2's apical current is B2 fb gated by f'
        fb = sim.rates("fb").copy()
        apical = sim.currents("pyr2", "apical")
        self.assertTrue(np.allclose(apical, (fb @ sim.weights("B2").T) * (h2 > 0), atol=1e-5))
        # set_weights writes through; the views see it
        sim.set_weights("up1", np.zeros((24, 20), np.float32))
        self.assertEqual(float(np.abs(w).max()), 0.0)
        sim.present(x, labels)
        self.assertEqual(float(np.abs(h2).max()), 0.0)
        with self.assertRaises(cs.InputError):
            sim.set_weights("up1", np.zeros((20, 24), np.float32))
        with self.assertRaises(cs.InputError) as e:
            sim.rates("pyr9")
        self.assertIn("unknown population 'pyr9'", str(e.exception))

    def test_advance_in_continuous_mode(self):
        doc = document()
        doc["circuit"]["populations"] = {"pyr": {"tau": 2}, "inter": {"tau": 2}}
        doc["circuit"]["synapses"] = {"up{l}": {"rule": {"eta": None, "tau": 100}}}
        doc["protocol"] = {"mode": "continuous", "trials": 4, "present_ms": 10,
                           "dataset": {"name": "teacher"}}
        sim = cs.Simulation(doc)
        x = np.ones((4, 20), np.float32)
        sim.advance(1, x, np.zeros(4, np.int32), learning=False)
        early = sim.rates("pyr2").copy()
        sim.advance(40, learning=False)
        late = sim.rates("pyr2").copy()
        self.assertEqual(sim.time_ms, 41)
        # tau dr/dt = -r + relu(W x) with x fixed: the rates relax to the rate law
        target = np.maximum(x @ sim.weights("up1").T, 0)
        self.assertLess(np.abs(late - target).max(), 1e-3 * (1 + np.abs(target).max()))
        self.assertGreater(np.abs(early - target).max(), 0.1 * np.abs(target).max())


class Reading(Folder):
    def test_open_a_continuous_recording_with_reports(self):
        doc = document()
        doc["circuit"]["populations"] = {"pyr": {"tau": 1}, "inter": {"tau": 1}}
        doc["circuit"]["synapses"] = {"up{l}": {"rule": {"eta": None, "tau": 100}}}
        doc["protocol"] = {"mode": "continuous", "epochs": 1, "max_steps": 5, "trials": 4, "present_ms": 10,
                           "learn_after_ms": 5, "dataset": {"name": "teacher"},
                           "record": {"sample_every_ms": 2, "populations": ["pyr2"], "trial": 0,
                                      "weights_every_ms": 20}}
        rec = cs.run(doc, output="c.h5", threads=1)
        r = rec.report("pyr2")
        self.assertEqual(r.dims, ("time", "neuron"))
        self.assertEqual(r.shape, (25, 24))  # 5 presentations x 10 ms, a frame every 2 ms
        self.assertEqual(float(r.time[0]), 2.0)
        self.assertEqual(float(r.time[-1]), 50.0)
        w = rec.weights("up1")
        self.assertEqual(list(w.time_ms.values), [0.0, 20.0, 40.0, 50.0])

    def test_open_a_sweep_and_an_analyzed_file(self):
        base = self.write("base.yaml", document(epochs=1))
        rec = cs.sweep({"base": os.path.abspath(base), "grid": {"circuit.eta_scale": [0.5, 1], "protocol.seed": [1, 2]}},
                       output="s.h5", threads=1)
        self.assertEqual(rec.format, "counterstream-sweep")
        table = rec.table
        self.assertEqual(len(table), 4)
        self.assertEqual(list(table["circuit.eta_scale"]), [0.5, 0.5, 1.0, 1.0])
        points = rec.points
        self.assertEqual(len(points), 4)
        self.assertAlmostEqual(points[3].metrics["test_accuracy"].iloc[-1], table["final_test_accuracy"].iloc[3])
        analyzed = cs.analyze("s.h5", point=1)
        a = analyzed.analysis
        self.assertIn("norm", a)
        self.assertEqual(len(a["theorem1"]["up1"]["angle_to_gradient"]), len(points[1].weights("up1").step))
        self.assertEqual(rec.attributes("sweep/table")["parameters"], ["circuit.eta_scale", "protocol.seed"])
        self.assertEqual(analyzed.attributes()["point"], 1)
        self.assertEqual(analyzed.attributes("analysis/theorem1")["probe_seed"], a["theorem1"]["@probe_seed"])
        self.assertIn("angle", analyzed.attributes("analysis/theorem1/up1/angle_to_gradient")["description"])

    def test_open_reads_a_file_still_being_written(self):
        doc = document(epochs=400)
        path = self.write("long.yaml", doc)
        proc = subprocess.Popen([BINARY, "run", path, "-o", "live.h5", "--threads", "1"],
                                stdout=subprocess.PIPE, text=True)
        try:
            for line in proc.stdout:
                if line.startswith("epoch   3"):
                    break
            rows = len(cs.open("live.h5").metrics)  # the writer still holds the file
            self.assertGreaterEqual(rows, 3)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate()


if __name__ == "__main__":
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
